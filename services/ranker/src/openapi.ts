import { openApiErrorResponses, toOpenApiSchema as toSchema } from '@nexttap/http';
import type { FastifyInstance } from 'fastify';
import { RANKER_ERRORS, type RankerErrorCode } from './errors';
import { errorResponseSchema, feedRequestSchema, feedResponseSchema, liveFeedQuerySchema } from './feed-request';

/** Routes of another role served by the same process, added to the ranker's document: OpenAPI paths and the schemas they refer to. */
export interface OpenApiAddition {
  paths: Record<string, unknown>;
  schemas: Record<string, unknown>;
}

/**
 * Builds the ranker's OpenAPI 3.0 document from the zod schemas that validate its requests and
 * responses, with the routes of `additions` (the collector, where it runs in the same process).
 */
export function buildOpenApiDocument(additions: readonly OpenApiAddition[] = []): Record<string, unknown> {
  const liveQuery = toSchema(liveFeedQuerySchema) as { properties: Record<string, Record<string, unknown>>; required?: string[] };
  const required = new Set(liveQuery.required ?? []);
  const liveParameters = Object.entries(liveQuery.properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema,
  }));
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
          requestBody: { required: true, content: { 'application/json': { schema: toSchema(feedRequestSchema) } } },
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
            'Each `feed` event has the feedId as its id and a feed response as its data. The current feed is sent at once on every connection, also on a reconnect with Last-Event-ID.',
          parameters: liveParameters,
          responses: {
            '200': { description: 'An event stream of `feed` events.', content: { 'text/event-stream': { schema: toSchema(feedResponseSchema) } } },
            ...openApiErrorResponses(RANKER_ERRORS, [...common, 'RANKER_ERR_TOO_MANY_LIVE_FEEDS'], 'Error'),
          },
        },
      },
      ...Object.assign({}, ...additions.map((addition) => addition.paths)),
    },
    components: { schemas: { Error: toSchema(errorResponseSchema), ...Object.assign({}, ...additions.map((addition) => addition.schemas)) } },
  };
}

/** Registers `GET /docs` and `GET /docs/openapi.json`, both returning the OpenAPI document. */
export function registerOpenApiRoutes(instance: FastifyInstance, additions: readonly OpenApiAddition[] = []): void {
  const document = buildOpenApiDocument(additions);
  const handler = async () => document;
  instance.get('/docs', handler);
  instance.get('/docs/openapi.json', handler);
}
