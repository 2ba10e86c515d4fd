import { VARIANT_COUNTERS, type VariantCounter } from '@nexttap/model';
import { z } from 'zod';
import { experimentFieldsSchema } from './experiment';

/** Body of the routes that name one model version: activate and shadow. */
export const modelBodySchema = z.object({ model: z.string().min(1).describe('Model version in the registry, name@version, such as movielens-mlp@1.') }).strict();

/** A valid body of the model routes, shown when a body is missing or not a JSON object; a version the repository ships. */
export const MODEL_BODY_EXAMPLE = '{"model":"movielens-mlp@1"}';

/** Reply of `POST /v1/admin/models/activate` and `POST /v1/admin/models/rollback`. */
export const modelChangeSchema = z.object({
  active: z.string().describe('The live model now, name@version.'),
  previous: z
    .string()
    .optional()
    .describe('The model that was live before a switch. When the activated version was already live, nothing switched and this is the rollback target. Absent when there is none.'),
  changed: z
    .boolean()
    .describe(
      'False when the activated version was already live: nothing was loaded or switched, so files replaced on disk under that version do not serve. True after every switch.',
    ),
  runningExperiment: z
    .string()
    .optional()
    .describe('Id of the running experiment, when one runs. Its variants keep serving every feed until it is stopped, so the live model serves no feed until then.'),
  note: z.string().optional().describe('Present when the change does not reach the feeds as a plain switch would: the version was already live, or an experiment runs. It says what to do.'),
});

/** A registry version with the result of the quick check of its files. */
const registryVersionSchema = z.object({
  model: z.string().describe('name@version.'),
  valid: z.boolean().describe('Whether the quick check passed. It reads the manifest and checks that model.onnx is a file, but does not load the ONNX graph, so activation can still reject a valid version.'),
  problem: z.string().optional().describe('Why the version is invalid: what failed and how to fix it. Absent when valid.'),
});

/** Reply of `GET /v1/admin/models`. */
export const servingStateSchema = z.object({
  live: z.string().optional().describe('The live model, name@version; absent before the first model is loaded.'),
  rollbackTo: z.string().optional().describe('The model a rollback switches to; absent when the rollback history is empty (no activation yet, or every kept model was rolled back to).'),
  history: z.array(z.string()).describe('Earlier live models, oldest first; a rollback takes the last one.'),
  shadow: z.string().optional().describe('The shadow model, when one is set.'),
  experiment: experimentFieldsSchema.extend({ startedAt: z.string().datetime() }).optional().describe('The running experiment, when one runs.'),
  registry: z.array(z.string()).describe('Every version in the model registry (MODELS_DIR), as name@version, valid or not.'),
  registryVersions: z.array(registryVersionSchema).describe('The versions listed in registry, in the same order, each marked valid or invalid by a check that loads no model.'),
});

/** Reply of `POST /v1/admin/models/shadow`. */
export const shadowSetSchema = z.object({ shadow: z.string().describe('The shadow model now, name@version.') });

/** Reply of `DELETE /v1/admin/models/shadow`. */
export const shadowRemovedSchema = z.object({ shadow: z.null() });

/** Reply of `POST /v1/admin/experiments`: the experiment that now runs. */
export const experimentStartedSchema = z.object({ experiment: experimentFieldsSchema });

/** Reply of `DELETE /v1/admin/experiments/:id`. */
export const experimentStoppedSchema = z.object({ stopped: z.string().describe('Id of the experiment that stopped.') });

/** A metric with its 95% interval; all three are null without observations. */
const estimateSchema = z.object({ value: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable() });

const countsSchema = z.object(
  Object.fromEntries(VARIANT_COUNTERS.map((counter) => [counter, z.number()])) as Record<VariantCounter, z.ZodNumber>,
);

/** Online metrics of one variant, as `GET /v1/experiments/:id` returns them. */
export const variantReportSchema = z.object({
  name: z.string(),
  model: z.string().nullable().describe("The variant's model, name@version; null when the ranker has no stored record of it."),
  weight: z.number().nullable().describe("The variant's relative weight; null when the ranker has no stored record of it."),
  counts: countsSchema.describe('Counters of attributed events; dwell is in seconds, positions are 0-based.'),
  tapThroughRate: estimateSchema.describe('Served first pages with at least one attributed tap, over served first pages; Wilson 95% interval.'),
  tapsPerImpression: estimateSchema.describe('Taps over impressions, when the app sends impressions; Wilson 95% interval, capped at 1.'),
  skipRate: estimateSchema.describe('Skips over impressions; Wilson 95% interval.'),
  meanDwellSeconds: estimateSchema.describe('Mean dwell in seconds over attributed events that carry dwellMs; normal 95% interval.'),
  meanFirstTapPosition: estimateSchema.describe("Mean 0-based position of each feed's first tap; normal 95% interval."),
});

/** Reply of `GET /v1/experiments/:id`. */
export const experimentReportSchema = z.object({
  id: z.string(),
  running: z.boolean(),
  variants: z.array(variantReportSchema),
  intervals: z.string().describe('How the intervals are computed.'),
});
