import { MAX_ID_LENGTH } from '@nexttap/events';
import { DOCS_OPENAPI_PATHS, HEALTH_OPENAPI_PATHS, openApiErrorResponses, registerOpenApiDocumentRoutes, toOpenApiSchema as toSchema } from '@nexttap/http';
import type { FastifyInstance } from 'fastify';
import { ADMIN_SECURITY_SCHEMES, buildAdminOpenApiPaths } from './admin-openapi';
import { DEMO_OPENAPI_PATHS } from './demo-route';
import { RANKER_ERRORS, type RankerErrorCode } from './errors';
import { errorResponseSchema, feedRequestSchema, feedResponseSchema, liveFeedQuerySchema } from './feed-request';

/** Routes of another role served by the same process, added to the ranker's document: OpenAPI paths and the schemas they refer to. */
export interface OpenApiAddition {
  paths: Record<string, unknown>;
  schemas: Record<string, unknown>;
}

/**
 * Builds the ranker's OpenAPI 3.0 document from the zod schemas that validate its requests and
 * responses. It describes every route a ranker process can serve: the feed routes, the admin
 * routes, the demo page, `/docs` and the health routes, with the routes of `additions` (the
 * collector, where it runs in the same process). `registerOpenApiRoutes` serves only the ones
 * the process registered.
 */
export function buildOpenApiDocument(additions: readonly OpenApiAddition[] = []): Record<string, unknown> {
  const common: RankerErrorCode[] = ['RANKER_ERR_INVALID_REQUEST', 'RANKER_ERR_NOT_READY', 'RANKER_ERR_INTERNAL'];
  return {
    openapi: '3.0.3',
    info: {
      title: additions.length === 0 ? 'nexttap ranker' : 'nexttap',
      version: '1',
      description: `${additions.length === 0 ? '' : 'Events and catalog items in, '}ranked feeds for the next tap out. Every error reply is {"error": {code, message, field}}; codes are stable. A degraded feed is a 200 with \`degraded\` set.`,
    },
    paths: {
      '/v1/feed': {
        post: {
          summary: 'Rank a feed for a session, or return the next page of one',
          requestBody: { required: true, content: { 'application/json': { schema: withIdLengths(toSchema(feedRequestSchema), FEED_REQUEST_IDS) } } },
          responses: {
            '200': { description: 'The ranked feed.', content: { 'application/json': { schema: toSchema(feedResponseSchema) } } },
            ...openApiErrorResponses(RANKER_ERRORS, [
              ...common,
              'RANKER_ERR_INVALID_JSON',
              'RANKER_ERR_BODY_TOO_LARGE',
              'RANKER_ERR_UNSUPPORTED_MEDIA_TYPE',
              'RANKER_ERR_INVALID_CURSOR',
              'RANKER_ERR_CURSOR_EXPIRED',
            ], 'Error'),
          },
        },
      },
      '/v1/feed/live': {
        get: {
          summary: 'Open a live feed (Server-Sent Events) that pushes a re-ranked feed when the session changes',
          description:
            'The stream starts with `retry: 1000`. Each `feed` event has the feedId as its id and a feed response as its data, and a `: heartbeat` comment keeps an idle stream open. The current feed is sent at once on every connection, also on a reconnect with Last-Event-ID. A parameter that is unknown, given twice or not valid percent-encoded UTF-8 gets 400.',
          parameters: liveFeedParameters(),
          responses: {
            '200': { description: 'An event stream of `feed` events.', content: { 'text/event-stream': { schema: toSchema(feedResponseSchema) } } },
            ...openApiErrorResponses(RANKER_ERRORS, [...common, 'RANKER_ERR_TOO_MANY_LIVE_FEEDS'], 'Error'),
          },
        },
      },
      ...buildAdminOpenApiPaths(),
      ...DEMO_OPENAPI_PATHS,
      ...DOCS_OPENAPI_PATHS,
      ...HEALTH_OPENAPI_PATHS,
      ...Object.assign({}, ...additions.map((addition) => addition.paths)),
    },
    components: {
      schemas: { Error: toSchema(errorResponseSchema), ...Object.assign({}, ...additions.map((addition) => addition.schemas)) },
      securitySchemes: ADMIN_SECURITY_SCHEMES,
    },
  };
}

/** Id fields of a feed request; `[]` marks a list of ids. */
const FEED_REQUEST_IDS = ['sessionId', 'userId', 'candidates[]', 'exclude[]'];

/** Id parameters of the live feed's query. */
const LIVE_FEED_QUERY_IDS = ['sessionId', 'userId'];

/**
 * Adds the length limits of ids to the properties named in `idFields` (`candidates[]` for the
 * elements of a list). `idSchema` checks the length after NFC normalisation in a refinement, which
 * the conversion from zod cannot describe.
 */
function withIdLengths(schema: Record<string, unknown>, idFields: readonly string[]): Record<string, unknown> {
  const properties = { ...(schema.properties as Record<string, Record<string, unknown>>) };
  for (const field of idFields) {
    const listName = field.endsWith('[]') ? field.slice(0, -2) : undefined;
    const property = properties[listName ?? field];
    if (property === undefined) {
      throw new Error(`the schema has no id field ${field}`);
    }
    properties[listName ?? field] = listName === undefined ? withIdLength(property) : { ...property, items: withIdLength(property.items as Record<string, unknown>) };
  }
  return { ...schema, properties };
}

function withIdLength(schema: Record<string, unknown>): Record<string, unknown> {
  return {
    ...schema,
    minLength: 1,
    maxLength: MAX_ID_LENGTH,
    description: `An id of 1 to ${MAX_ID_LENGTH} characters after NFC normalisation, without whitespace at either end (what String.prototype.trim removes) and without control or invisible format characters.`,
  };
}

/** Builds the parameters of `GET /v1/feed/live`: the query parameters of its zod schema and the Last-Event-ID header. */
function liveFeedParameters(): Array<Record<string, unknown>> {
  const liveQuery = withIdLengths(toSchema(liveFeedQuerySchema), LIVE_FEED_QUERY_IDS) as { properties: Record<string, Record<string, unknown>>; required?: string[] };
  const required = new Set(liveQuery.required ?? []);
  const query = Object.entries(liveQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: required.has(name), schema }));
  const lastEventId = {
    name: 'Last-Event-ID',
    in: 'header',
    required: false,
    description:
      'The id of the last event received, which an EventSource sends when it reconnects. Any value is accepted, and the reply is the same as without it: the current feed at once, never a replay of the feeds missed.',
    schema: { type: 'string' },
  };
  return [...query, lastEventId];
}

/**
 * Registers `GET /docs` and `GET /docs/openapi.json`, both returning the OpenAPI document of the
 * routes the process serves, with those of `additions`.
 */
export function registerOpenApiRoutes(instance: FastifyInstance, additions: readonly OpenApiAddition[] = []): void {
  registerOpenApiDocumentRoutes(instance, () => buildOpenApiDocument(additions));
}
