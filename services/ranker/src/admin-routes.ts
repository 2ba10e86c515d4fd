import { createHash, timingSafeEqual } from 'node:crypto';
import { describeSurroundingWhitespace, quoteJsonString } from '@nexttap/events';
import { NO_BODY_ROUTE_OPTIONS, parseBody, rejectQueryParameters } from '@nexttap/http';
import { formatModelReference, ModelNotFoundError, ModelReferenceError, ModelValidationError, planExperimentVariants } from '@nexttap/model';
import type { FeatureStore } from '@nexttap/store';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { MODEL_BODY_EXAMPLE, modelBodySchema, type modelChangeSchema } from './admin-schemas';
import { rankerError } from './errors';
import { EXPERIMENT_EXAMPLE, experimentSchema, type ExperimentConfig } from './experiment';
import { readExperimentReport } from './experiment-report';
import { VariantModelError, type ModelChange, type ModelManager } from './model-manager';

export interface AdminRouteOptions {
  /** The bearer token every admin request must send; never logged. */
  token: string;
  models: ModelManager;
  store: FeatureStore;
}


/**
 * Registers the admin routes of models and experiments, each behind the bearer token. The caller
 * registers them only when a token is configured, so without one they do not exist (404).
 */
export function registerAdminRoutes(instance: FastifyInstance, options: AdminRouteOptions): void {
  void instance.register(async (scope) => {
    const expected = digest(options.token);
    scope.addHook('onRequest', async (request) => {
      if (!hasToken(request, expected)) {
        throw rankerError('RANKER_ERR_UNAUTHORIZED', 'this route needs the admin bearer token; send Authorization: Bearer <ADMIN_TOKEN>', {
          headers: { 'www-authenticate': 'Bearer' },
        });
      }
    });
    registerModelRoutes(scope, options);
    registerExperimentRoutes(scope, options);
  });
}

function registerModelRoutes(scope: FastifyInstance, { models }: AdminRouteOptions): void {
  const registry = models.registry;
  scope.get('/v1/admin/models', async () => {
    const versions = await registry.listChecked();
    return {
      ...models.state(),
      registry: versions.map((version) => formatModelReference(version)),
      registryVersions: versions.map((version) => ({
        model: formatModelReference(version),
        valid: version.problem === undefined,
        ...(version.problem === undefined ? {} : { problem: version.problem }),
      })),
    };
  });

  // The manager logs each change once, on the request's logger, so the line carries the request id.
  scope.post('/v1/admin/models/activate', async (request) => {
    rejectQueryParameters(request, 'RANKER_ERR_INVALID_REQUEST');
    const body = parseBody(modelBodySchema, request.body, 'RANKER_ERR_INVALID_REQUEST', { example: MODEL_BODY_EXAMPLE });
    return describeModelChange(await withModelErrors(() => models.activate(body.model, request.log)));
  });

  scope.post('/v1/admin/models/rollback', NO_BODY_ROUTE_OPTIONS, async (request) => {
    rejectQueryParameters(request, 'RANKER_ERR_INVALID_REQUEST');
    const result = await withModelErrors(() => models.rollback(request.log));
    if (result === undefined) {
      throw rankerError('RANKER_ERR_NO_PREVIOUS_MODEL', noRollbackTargetMessage(models.hasRolledBack()));
    }
    return describeModelChange(result);
  });

  scope.post('/v1/admin/models/shadow', async (request) => {
    rejectQueryParameters(request, 'RANKER_ERR_INVALID_REQUEST');
    const body = parseBody(modelBodySchema, request.body, 'RANKER_ERR_INVALID_REQUEST', { example: MODEL_BODY_EXAMPLE });
    return { shadow: await withModelErrors(() => models.setShadow(body.model)) };
  });

  scope.delete('/v1/admin/models/shadow', NO_BODY_ROUTE_OPTIONS, async () => ({ shadow: await models.setShadow(undefined) ?? null }));
}

/**
 * Explains an empty rollback history. The ranker keeps the model that was live before each
 * activation, and each rollback switches to the latest of them and drops it from the history.
 */
function noRollbackTargetMessage(hasRolledBack: boolean): string {
  const reason = hasRolledBack
    ? 'the rollback history of this ranker is empty, because earlier rollbacks already switched back to every model it kept (it keeps the model live before each activation)'
    : 'no model was activated in this ranker since it started, so it has no earlier model to roll back to';
  return `${reason}; activate the version to serve with POST /v1/admin/models/activate, and GET /v1/admin/models lists the registry`;
}

function registerExperimentRoutes(scope: FastifyInstance, { models, store }: AdminRouteOptions): void {
  scope.post('/v1/admin/experiments', async (request) => {
    rejectQueryParameters(request, 'RANKER_ERR_INVALID_REQUEST');
    const experiment = parseBody(experimentSchema, request.body, 'RANKER_ERR_INVALID_REQUEST', { example: EXPERIMENT_EXAMPLE });
    await withModelErrors(() => models.startExperiment(experiment));
    await storeVariants(store, experiment, request.log);
    return { experiment };
  });

  scope.delete<{ Params: { id: string } }>('/v1/admin/experiments/:id', NO_BODY_ROUTE_OPTIONS, async (request) => {
    rejectExperimentIdWhitespace(request.params.id);
    const running = models.runningExperiment;
    if (!(await models.stopExperiment(request.params.id))) {
      throw rankerError('RANKER_ERR_EXPERIMENT_NOT_FOUND', `experiment ${request.params.id} is not running; GET /v1/admin/models names the running one`);
    }
    // Written again, in case the write at the start failed; it also restarts the record's TTL.
    if (running?.id === request.params.id) {
      await storeVariants(store, running, request.log);
    }
    return { stopped: request.params.id };
  });

  scope.get<{ Params: { id: string } }>('/v1/experiments/:id', async (request) => {
    rejectExperimentIdWhitespace(request.params.id);
    const report = await readExperimentReport(store, request.params.id, models.runningExperiment);
    if (report === undefined) {
      throw rankerError('RANKER_ERR_EXPERIMENT_NOT_FOUND', `experiment ${request.params.id} is not running and has no recorded metrics; check the id`);
    }
    return report;
  });
}

/**
 * Rejects an experiment id of a path with whitespace around it, such as `/v1/experiments/%20exp-1`.
 * No experiment has such an id, so the 404 it would get shows the id without the cause.
 */
function rejectExperimentIdWhitespace(experimentId: string): void {
  const whitespace = describeSurroundingWhitespace(experimentId);
  if (whitespace !== undefined) {
    throw rankerError('RANKER_ERR_INVALID_REQUEST', `id ${whitespace}; send the experiment id without the surrounding whitespace (received ${quoteJsonString(experimentId)})`, { field: 'id' });
  }
}

/**
 * Builds the reply of an activation or a rollback. It adds a note when the feeds do not follow the
 * change: the version was already live, so its files were not read again, or an experiment runs,
 * whose variants keep serving every feed until it stops.
 */
function describeModelChange(change: ModelChange): z.infer<typeof modelChangeSchema> {
  const { active, previous, changed, experimentId } = change;
  const notes: string[] = [];
  if (!changed) {
    notes.push(
      `${active} is already live, so nothing changed and its files were not read again. ` +
        'To serve files retrained under the same version, put them in a new version folder and activate that, or activate another version and then this one again.',
    );
  }
  if (experimentId !== undefined) {
    notes.push(
      `Experiment ${experimentId} is running, so feeds keep following its variants until it is stopped with DELETE /v1/admin/experiments/${experimentId}; ` +
        `${active} serves the feeds only after that.`,
    );
  }
  return {
    active,
    ...(previous === undefined ? {} : { previous }),
    changed,
    ...(experimentId === undefined ? {} : { runningExperiment: experimentId }),
    ...(notes.length === 0 ? {} : { note: notes.join(' ') }),
  };
}

/**
 * Stores the experiment's variants beside its counters, so that its report keeps each variant's
 * model and weight after it stops. A failed write is logged and does not fail the request, because
 * the experiment runs either way and only the report of the stopped experiment loses the models.
 */
async function storeVariants(store: FeatureStore, experiment: ExperimentConfig, log: FastifyBaseLogger): Promise<void> {
  try {
    await store.apply([planExperimentVariants(experiment.id, experiment.variants)]);
  } catch (error) {
    log.warn({ err: error, experimentId: experiment.id }, 'storing the experiment variants failed; its report after it stops will not name their models');
  }
}

/**
 * Maps the model registry's errors to the catalogue, with the field `model`, or the variant's
 * `variants.<index>.model` for an experiment. Other errors propagate as 500.
 */
async function withModelErrors<T>(change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (error) {
    const variantIndex = error instanceof VariantModelError ? error.variantIndex : undefined;
    const field = variantIndex === undefined ? 'model' : `variants.${variantIndex}.model`;
    const registryError = error instanceof VariantModelError ? error.cause : error;
    // The registry's messages start with `model`; a variant's message names its field first.
    const prefix = variantIndex === undefined ? '' : `${field}: `;
    if (registryError instanceof ModelReferenceError) {
      throw rankerError('RANKER_ERR_INVALID_REQUEST', `${prefix}${registryError.message}`, { field, cause: registryError });
    }
    if (registryError instanceof ModelNotFoundError) {
      throw rankerError('RANKER_ERR_MODEL_NOT_FOUND', `${prefix}${registryError.message}`, { field, cause: registryError });
    }
    if (registryError instanceof ModelValidationError) {
      throw rankerError('RANKER_ERR_MODEL_INVALID', `${prefix}${registryError.message}; the serving models are unchanged`, { field, cause: registryError });
    }
    throw error;
  }
}

/** SHA-256 of a token, so both sides of the comparison have the same length. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Compares the request's bearer token with the configured one in time independent of their contents. */
function hasToken(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !/^bearer /i.test(header)) {
    return false;
  }
  return timingSafeEqual(digest(header.slice('bearer '.length).trim()), expected);
}
