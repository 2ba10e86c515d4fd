import { openApiErrorResponses, toOpenApiSchema as toSchema } from '@nexttap/http';
import type { z } from 'zod';
import {
  experimentReportSchema,
  experimentStartedSchema,
  experimentStoppedSchema,
  modelBodySchema,
  modelChangeSchema,
  servingStateSchema,
  shadowRemovedSchema,
  shadowSetSchema,
} from './admin-schemas';
import { experimentSchema } from './experiment';
import { RANKER_ERRORS, type RankerErrorCode } from './errors';

/** Name of the admin bearer token under `components.securitySchemes`. */
const SECURITY_SCHEME = 'adminToken';

/** The security scheme of the admin routes, for `components.securitySchemes`. */
export const ADMIN_SECURITY_SCHEMES: Record<string, unknown> = {
  [SECURITY_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    description: 'The token of ADMIN_TOKEN. Without ADMIN_TOKEN the ranker does not register the admin routes, and they reply 404.',
  },
};

/** Codes of a route that reads a `{"model": "name@version"}` body and loads that model. */
const MODEL_BODY_CODES: RankerErrorCode[] = [
  'RANKER_ERR_INVALID_REQUEST',
  'RANKER_ERR_INVALID_JSON',
  'RANKER_ERR_UNAUTHORIZED',
  'RANKER_ERR_MODEL_NOT_FOUND',
  'RANKER_ERR_BODY_TOO_LARGE',
  'RANKER_ERR_UNSUPPORTED_MEDIA_TYPE',
  'RANKER_ERR_MODEL_INVALID',
  'RANKER_ERR_INTERNAL',
];

interface AdminOperation {
  summary: string;
  description?: string;
  body?: z.ZodTypeAny;
  reply: z.ZodTypeAny;
  replyDescription: string;
  codes: RankerErrorCode[];
  pathParameter?: { name: string; description: string };
}

/** Describes one admin operation: behind the bearer token, with its body, its reply and its error codes. */
function adminOperation(operation: AdminOperation): Record<string, unknown> {
  return {
    summary: operation.summary,
    ...(operation.description === undefined ? {} : { description: operation.description }),
    security: [{ [SECURITY_SCHEME]: [] }],
    ...(operation.pathParameter === undefined
      ? {}
      : { parameters: [{ name: operation.pathParameter.name, in: 'path', required: true, description: operation.pathParameter.description, schema: { type: 'string' } }] }),
    ...(operation.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: toSchema(operation.body) } } } }),
    responses: {
      '200': { description: operation.replyDescription, content: { 'application/json': { schema: toSchema(operation.reply) } } },
      ...openApiErrorResponses(RANKER_ERRORS, operation.codes, 'Error'),
    },
  };
}

/** Builds the OpenAPI paths of the admin routes (`registerAdminRoutes`) from the zod schemas they parse and reply with. */
export function buildAdminOpenApiPaths(): Record<string, unknown> {
  // The routes reply 400 to an id with whitespace around it, and 404 to any other id that matches no experiment.
  const experimentId = { name: 'id', description: 'Id of the experiment, as it was started, without whitespace around it.' };
  return {
    '/v1/admin/models': {
      get: adminOperation({
        summary: 'List the serving models and every registry version',
        reply: servingStateSchema,
        replyDescription: 'The live model, the rollback history, the shadow, the running experiment and the registry.',
        codes: ['RANKER_ERR_UNAUTHORIZED', 'RANKER_ERR_INTERNAL'],
      }),
    },
    '/v1/admin/models/activate': {
      post: adminOperation({
        summary: 'Load, validate and switch to a registry version',
        description:
          'The old model serves until the new one is validated; an invalid version gets 422 and nothing changes. ' +
          'Activating the version that is already live changes nothing: the reply has changed false and a note, names the version as active, previous is the current rollback target, and the rollback history stays as it was. ' +
          'Its files are not read again, so to serve files retrained under the same version, put them in a new version folder. ' +
          "While an experiment runs, its variants keep serving every feed until it is stopped with DELETE /v1/admin/experiments/{id}; the reply's runningExperiment and note say so.",
        body: modelBodySchema,
        reply: modelChangeSchema,
        replyDescription: 'The version is live, or already was (changed false).',
        codes: MODEL_BODY_CODES,
      }),
    },
    '/v1/admin/models/rollback': {
      post: adminOperation({
        summary: 'Switch back to the model live before the latest activation',
        description:
          "The earlier version is loaded from the registry again, so its folder must still be there. While an experiment runs, its variants keep serving every feed until it is stopped; the reply's runningExperiment and note say so.",
        reply: modelChangeSchema,
        replyDescription: 'The earlier model is live again.',
        codes: ['RANKER_ERR_UNAUTHORIZED', 'RANKER_ERR_MODEL_NOT_FOUND', 'RANKER_ERR_NO_PREVIOUS_MODEL', 'RANKER_ERR_MODEL_INVALID', 'RANKER_ERR_INTERNAL'],
      }),
    },
    '/v1/admin/models/shadow': {
      post: adminOperation({
        summary: 'Set the shadow model, which scores each first page beside the serving model',
        body: modelBodySchema,
        reply: shadowSetSchema,
        replyDescription: 'The version is the shadow model.',
        codes: MODEL_BODY_CODES,
      }),
      delete: adminOperation({
        summary: 'Remove the shadow model',
        reply: shadowRemovedSchema,
        replyDescription: 'No shadow model is set.',
        codes: ['RANKER_ERR_UNAUTHORIZED', 'RANKER_ERR_INTERNAL'],
      }),
    },
    '/v1/admin/experiments': {
      post: adminOperation({
        summary: 'Start an experiment, replacing the running one',
        description:
          "Every variant's model is loaded and validated before the switch. An error about a variant's model names it as variants.<index>.model.",
        body: experimentSchema,
        reply: experimentStartedSchema,
        replyDescription: 'The experiment runs.',
        codes: MODEL_BODY_CODES,
      }),
    },
    '/v1/admin/experiments/{id}': {
      delete: adminOperation({
        summary: 'Stop the running experiment',
        description: 'Its counters and its variants stay stored, so GET /v1/experiments/{id} still reports them.',
        pathParameter: experimentId,
        reply: experimentStoppedSchema,
        replyDescription: 'The experiment stopped; feeds are served by the live model again.',
        codes: ['RANKER_ERR_UNAUTHORIZED', 'RANKER_ERR_INVALID_REQUEST', 'RANKER_ERR_EXPERIMENT_NOT_FOUND', 'RANKER_ERR_INTERNAL'],
      }),
    },
    '/v1/experiments/{id}': {
      get: adminOperation({
        summary: 'Report the online metrics of each variant of an experiment',
        description: 'Works for the running experiment and for a stopped one whose record has not expired (90 days after its last update).',
        pathParameter: experimentId,
        reply: experimentReportSchema,
        replyDescription: 'The metrics of each variant, the configured ones first.',
        codes: ['RANKER_ERR_UNAUTHORIZED', 'RANKER_ERR_INVALID_REQUEST', 'RANKER_ERR_EXPERIMENT_NOT_FOUND', 'RANKER_ERR_INTERNAL'],
      }),
    },
  };
}
