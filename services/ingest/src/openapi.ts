import { catalogItemSchema, EPOCH_SECONDS_LIMIT, interactionSchema, MAX_ID_LENGTH, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, REJECTION_REASONS } from '@nexttap/events';
import { DOCS_OPENAPI_PATHS, HEALTH_OPENAPI_PATHS, openApiErrorResponses, registerOpenApiDocumentRoutes, toOpenApiSchema as toSchema } from '@nexttap/http';
import type { FastifyInstance } from 'fastify';
import { MAX_EVENTS_PER_REQUEST } from './config';
import { INGEST_ERRORS } from './errors';

/** The collector's part of an OpenAPI 3.0 document: its paths and the schemas they refer to. */
export interface CollectorOpenApi {
  paths: Record<string, unknown>;
  schemas: Record<string, unknown>;
}

/**
 * Describes a time as the event contract accepts it, from `minimumMs` on. Its zod schema checks
 * the value in a refinement, which the conversion cannot describe, so the document states it here.
 * Epoch milliseconds from 0 to just below `EPOCH_SECONDS_LIMIT` are rejected, so when `minimumMs`
 * is negative the integers form two ranges: before 1970, and from 1973-03-03 on.
 */
function timeSchema(minimumMs: number): Record<string, unknown> {
  const secondsRule = `Epoch milliseconds from 0 to ${EPOCH_SECONDS_LIMIT - 1} are rejected, 0 as an unset time and the others as epoch seconds (EVENT_EPOCH_SECONDS).`;
  const integerForms: Array<Record<string, unknown>> = [];
  if (minimumMs < 0) {
    integerForms.push({
      type: 'integer',
      minimum: minimumMs,
      maximum: -1,
      description: `Epoch milliseconds before 1970, from ${isoText(minimumMs)}. ${secondsRule}`,
    });
  }
  const positiveMinimumMs = Math.max(minimumMs, EPOCH_SECONDS_LIMIT);
  integerForms.push({
    type: 'integer',
    minimum: positiveMinimumMs,
    maximum: MAX_TIMESTAMP_MS,
    description: `Epoch milliseconds from ${isoText(positiveMinimumMs)} to ${isoText(MAX_TIMESTAMP_MS)}. ${secondsRule}`,
  });
  return {
    oneOf: [
      ...integerForms,
      {
        type: 'string',
        format: 'date-time',
        description: `ISO-8601 date-time with a zone, such as 2024-05-01T12:00:00Z, from ${isoText(minimumMs)} to ${isoText(MAX_TIMESTAMP_MS)}.`,
      },
    ],
  };
}

function isoText(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/**
 * Completes what the conversion leaves out of an entry schema: the length limits of ids, which
 * are checked after NFC normalisation in a refinement, and the two forms of a time.
 */
function withContractLimits(schema: Record<string, unknown>, timeField: { name: string; minimumMs: number }): Record<string, unknown> {
  const properties = { ...(schema.properties as Record<string, Record<string, unknown>>) };
  for (const [name, property] of Object.entries(properties)) {
    if (name === timeField.name) {
      properties[name] = timeSchema(timeField.minimumMs);
    } else if (name.endsWith('Id') && property.type === 'string') {
      properties[name] = { ...property, minLength: 1, maxLength: MAX_ID_LENGTH };
    }
  }
  return { ...schema, properties };
}

/** Describes one collector route: a list of entries in, the count accepted and each rejection out. */
function collectorRoute(options: { summary: string; description: string; list: 'events' | 'items'; entrySchema: string }): Record<string, unknown> {
  return {
    post: {
      summary: options.summary,
      description: options.description,
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: [options.list],
              additionalProperties: false,
              properties: {
                [options.list]: { type: 'array', minItems: 1, maxItems: MAX_EVENTS_PER_REQUEST, items: { $ref: `#/components/schemas/${options.entrySchema}` } },
              },
            },
          },
        },
      },
      responses: {
        '202': {
          description: `The valid ${options.list} were acknowledged by the event bus; \`rejected\` lists each other entry by its index, with the reason.`,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/CollectorAccepted' } } },
        },
        ...openApiErrorResponses(INGEST_ERRORS, [
          'INGEST_ERR_INVALID_REQUEST',
          'INGEST_ERR_ALL_EVENTS_REJECTED',
          'INGEST_ERR_INVALID_JSON',
          'INGEST_ERR_BODY_TOO_LARGE',
          'INGEST_ERR_UNSUPPORTED_MEDIA_TYPE',
          'INGEST_ERR_BUS_UNAVAILABLE',
          'INGEST_ERR_INTERNAL',
        ], 'CollectorError'),
      },
    },
  };
}

const rejectedEntrySchema = {
  type: 'object',
  required: ['index', 'code', 'message'],
  properties: {
    index: { type: 'integer', minimum: 0, description: 'Position of the entry in the request.' },
    code: { type: 'string', enum: Object.values(REJECTION_REASONS), description: 'Stable reason code; branch on it, not on the message.' },
    field: { type: 'string', description: 'The field at fault; absent when the whole entry is, such as an entry that is not an object.' },
    message: { type: 'string', description: 'What is wrong and how to fix it.' },
  },
};

/** Builds the collector's routes (`POST /v1/events`, `POST /v1/catalog`) as OpenAPI paths, from the zod schemas that validate each entry. */
export function buildCollectorOpenApi(): CollectorOpenApi {
  return {
    paths: {
      '/v1/events': collectorRoute({
        summary: 'Send what people did in their sessions',
        description:
          'Each event is validated on its own: the valid ones go to the interactions topic keyed by sessionId, and the reply is sent after the bus acknowledged them. Sending a request again is safe, because events are de-duplicated by eventId.',
        list: 'events',
        entrySchema: 'Interaction',
      }),
      '/v1/catalog': collectorRoute({
        summary: 'Add or update catalog items',
        description:
          'Each item is validated on its own; the valid ones go to the catalog topic keyed by itemId. A record replaces the earlier record of its item whole: a field it leaves out is removed, so send every field each time.',
        list: 'items',
        entrySchema: 'CatalogItem',
      }),
    },
    schemas: {
      // An event time must be after 1973-03-03, because smaller numbers are taken for epoch seconds.
      // A publish date may reach back to 1800, for films and books.
      Interaction: withContractLimits(toSchema(interactionSchema), { name: 'ts', minimumMs: EPOCH_SECONDS_LIMIT }),
      CatalogItem: withContractLimits(toSchema(catalogItemSchema), { name: 'publishedAt', minimumMs: MIN_TIMESTAMP_MS }),
      CollectorAccepted: {
        type: 'object',
        required: ['accepted', 'rejected'],
        properties: { accepted: { type: 'integer', minimum: 0 }, rejected: { type: 'array', items: rejectedEntrySchema } },
      },
      CollectorError: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
          },
          accepted: { type: 'integer', description: 'With INGEST_ERR_ALL_EVENTS_REJECTED: 0.' },
          rejected: { type: 'array', items: rejectedEntrySchema, description: 'With INGEST_ERR_ALL_EVENTS_REJECTED: the reason of each entry.' },
        },
      },
    },
  };
}

/** Builds the OpenAPI document of a process that runs the collector alone, with `/docs` and the health routes. */
export function buildCollectorOpenApiDocument(): Record<string, unknown> {
  const { paths, schemas } = buildCollectorOpenApi();
  return {
    openapi: '3.0.3',
    info: {
      title: 'nexttap collector',
      version: '1',
      description: 'Events and catalog items in. Every error reply is {"error": {code, message, field}}; codes are stable.',
    },
    paths: { ...paths, ...DOCS_OPENAPI_PATHS, ...HEALTH_OPENAPI_PATHS },
    components: { schemas },
  };
}

/**
 * Registers `GET /docs` and `GET /docs/openapi.json` with the collector's OpenAPI document, which
 * lists the routes among its paths that the process serves.
 */
export function registerCollectorOpenApiRoutes(instance: FastifyInstance): void {
  registerOpenApiDocumentRoutes(instance, buildCollectorOpenApiDocument);
}
