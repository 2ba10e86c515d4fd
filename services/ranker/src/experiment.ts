import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Experiment and variant ids: they appear in Redis keys and URLs. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID_MESSAGE = 'must be 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit';

/**
 * The fields of an experiment, without the checks across variants: variants that each serve one
 * model version to a share of traffic. The admin API replies with an experiment in this form.
 */
export const experimentFieldsSchema = z
  .object({
    id: z.string().regex(ID, ID_MESSAGE),
    salt: z.string().min(1).max(200).optional().describe('Mixed into the hash, so two experiments split the same users independently. Default: the id.'),
    variants: z
      .array(
        z
          .object({
            name: z.string().regex(ID, ID_MESSAGE),
            model: z.string().min(1).describe('Model version in the registry, name@version.'),
            weight: z.number().positive().finite().describe('Relative share of traffic; the weights need not add up to 1.'),
          })
          .strict(),
      )
      .min(1)
      .max(20),
  })
  .strict();

/** An experiment as the admin API accepts it: `experimentFieldsSchema` with unique variant names and a finite sum of weights. */
export const experimentSchema = experimentFieldsSchema
  .superRefine((experiment, context) => {
    const names = experiment.variants.map((variant) => variant.name);
    const repeated = names.filter((name, index) => names.indexOf(name) !== index);
    if (repeated.length > 0) {
      context.addIssue({ code: z.ZodIssueCode.custom, path: ['variants'], message: `variant names must be unique; ${repeated.join(', ')} repeats` });
    }
    // Each share is weight / sum, so a sum that overflows to Infinity makes every share 0 and
    // sends all traffic to the last variant.
    const total = experiment.variants.reduce((sum, variant) => sum + variant.weight, 0);
    if (!Number.isFinite(total)) {
      context.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['variants'],
        message: `variants have weights that add up to more than ${Number.MAX_VALUE}, the largest finite number; send small relative weights such as 1 and 1`,
      });
    }
  });

/** A valid experiment body, shown when a body is missing or not a JSON object. */
export const EXPERIMENT_EXAMPLE = '{"id":"exp-1","variants":[{"name":"a","model":"linear@1","weight":1},{"name":"b","model":"linear@2","weight":1}]}';

export type ExperimentConfig = z.infer<typeof experimentSchema>;

/**
 * Maps an assignment unit (userId, or sessionId for an anonymous session) to a number in [0, 1)
 * from the first 48 bits of SHA-256 over `salt:unit`, so the same unit always lands on the same
 * point and different salts give independent splits.
 */
export function assignmentPoint(salt: string, unitId: string): number {
  const digest = createHash('sha256').update(salt).update(':').update(unitId).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** Returns the index of the variant whose cumulative weight range contains `point`. */
export function pickVariant(weights: readonly number[], point: number): number {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let upper = 0;
  for (const [index, weight] of weights.entries()) {
    upper += weight / total;
    if (point < upper) {
      return index;
    }
  }
  // Rounding can leave the sum of the shares a hair under 1.
  return weights.length - 1;
}
