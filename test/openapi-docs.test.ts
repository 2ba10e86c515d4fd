import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { EPOCH_SECONDS_LIMIT, INTERACTION_TYPES, MAX_ID_LENGTH, REJECTION_REASONS } from '@nexttap/events';
import { createLogger } from '@nexttap/observability';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { MODEL_DIR } from './feed-scenario';

const logger = createLogger({ level: 'silent', service: 'openapi-docs' });
const ADMIN_TOKEN = 'openapi-docs-admin-token';

let server: RunningServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Methods that fastify or a plugin serves on every path, which the document leaves out. */
const IMPLIED_METHODS = new Set([
  // fastify serves HEAD for every GET route.
  'HEAD',
  // @fastify/cors replies to CORS preflight requests on every path.
  'OPTIONS',
]);

/**
 * Starts a server of `role` and returns it with every route it registered, as `GET /v1/feed/live`.
 * The routes come from an onRoute hook that fastify's `fastify.initialization` diagnostics channel
 * lets the test add before any route is registered.
 */
async function startRecording(role: 'ingest' | 'ranker' | 'all', environment: Record<string, string> = {}): Promise<{ running: RunningServer; routes: string[] }> {
  const routes: string[] = [];
  const recordRoutes = (message: unknown) => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) {
        if (!IMPLIED_METHODS.has(method)) {
          routes.push(`${method} ${route.url}`);
        }
      }
    });
  };
  subscribe('fastify.initialization', recordRoutes);
  try {
    server = await startServer(role, parseServerConfig({ PORT: '0', SEED_DATASET: 'none', LOG_LEVEL: 'silent', MODEL_DIR, ...environment }), { logger });
  } finally {
    unsubscribe('fastify.initialization', recordRoutes);
  }
  return { running: server, routes: [...new Set(routes)].sort() };
}

async function docsOf(role: 'ingest' | 'ranker' | 'all', environment: Record<string, string> = {}) {
  const { running, routes } = await startRecording(role, environment);
  const response = await running.app.inject({ method: 'GET', url: '/docs' });
  expect(response.statusCode).toBe(200);
  return { document: response.json(), routes };
}

/** Lists the operations of an OpenAPI document as `GET /v1/feed/live`, with path parameters written as fastify writes them (`:id`). */
function documentedRoutes(document: { paths: Record<string, Record<string, unknown>> }): string[] {
  const routes = Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
  );
  return routes.sort();
}

describe('the OpenAPI document at /docs', () => {
  it.each([
    ['all', { ADMIN_TOKEN }],
    ['all', {}],
    ['ranker', { ADMIN_TOKEN }],
    ['ranker', {}],
    ['ingest', {}],
  ] as const)('lists every route %s serves with %j', async (role, environment) => {
    const { document, routes } = await docsOf(role, environment);
    expect(routes.length).toBeGreaterThan(4);
    expect(documentedRoutes(document)).toEqual(routes);
  });

  it('describes the admin routes with their bearer token', async () => {
    const { document } = await docsOf('ranker', { ADMIN_TOKEN });
    expect(document.components.securitySchemes.adminToken).toEqual({ type: 'http', scheme: 'bearer', description: expect.stringContaining('ADMIN_TOKEN') });
    const activate = document.paths['/v1/admin/models/activate'].post;
    expect(activate.security).toEqual([{ adminToken: [] }]);
    expect(activate.requestBody.content['application/json'].schema.required).toEqual(['model']);
    expect(Object.keys(activate.responses).sort()).toEqual(['200', '400', '401', '404', '413', '415', '422', '500']);
    const experiment = document.paths['/v1/admin/experiments'].post.requestBody.content['application/json'].schema;
    expect(experiment.properties.variants.maxItems).toBe(20);
    const report = document.paths['/v1/experiments/{id}'].get;
    expect(report.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
    expect(Object.keys(report.responses).sort()).toEqual(['200', '400', '401', '404', '500']);
    expect(document.paths['/healthz'].get.security).toBeUndefined();
  });

  it('gives the live feed ids their length and Last-Event-ID', async () => {
    const { document } = await docsOf('ranker');
    const parameters = document.paths['/v1/feed/live'].get.parameters as Array<{ name: string; in: string; schema: Record<string, unknown> }>;
    const byName = new Map(parameters.map((parameter) => [parameter.name, parameter]));
    for (const name of ['sessionId', 'userId']) {
      expect(byName.get(name)?.schema, name).toMatchObject({ type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH });
    }
    expect(byName.get('Last-Event-ID')).toMatchObject({ in: 'header', schema: { type: 'string' } });
    const feed = document.paths['/v1/feed'].post.requestBody.content['application/json'].schema;
    expect(feed.properties.sessionId).toMatchObject({ minLength: 1, maxLength: MAX_ID_LENGTH });
    expect(feed.properties.candidates.items).toMatchObject({ minLength: 1, maxLength: MAX_ID_LENGTH });
  });

  it('lists collector and feed routes together', async () => {
    const { document } = await docsOf('all');
    expect(Object.keys(document.paths).sort()).toEqual(['/demo', '/docs', '/docs/openapi.json', '/healthz', '/metrics', '/readyz', '/v1/catalog', '/v1/events', '/v1/feed', '/v1/feed/live']);
    const events = document.paths['/v1/events'].post;
    expect(Object.keys(events.responses).sort()).toEqual(['202', '400', '413', '415', '500', '503']);
    expect(events.requestBody.content['application/json'].schema.properties.events.items).toEqual({ $ref: '#/components/schemas/Interaction' });
    const interaction = document.components.schemas.Interaction;
    expect([...interaction.required].sort()).toEqual(['eventId', 'itemId', 'sessionId', 'ts', 'type']);
    expect(interaction.properties.type.enum).toEqual([...INTERACTION_TYPES]);
    expect(interaction.properties.sessionId.maxLength).toBe(MAX_ID_LENGTH);
    expect(interaction.properties.ts.oneOf.map((form: { type: string }) => form.type)).toEqual(['integer', 'string']);
    expect(interaction.properties.ts.oneOf[0].minimum).toBe(EPOCH_SECONDS_LIMIT);
    expect(document.info.title).toBe('nexttap');
    const rejected = document.components.schemas.CollectorAccepted.properties.rejected.items;
    expect(rejected.properties.code.enum).toEqual(Object.values(REJECTION_REASONS));
    expect(document.components.schemas.CatalogItem.required).toContain('itemId');
    // Every reference points at a schema the document holds.
    const references = JSON.stringify(document).match(/#\/components\/schemas\/\w+/g) ?? [];
    for (const reference of new Set(references)) {
      expect(document.components.schemas[reference.split('/').at(-1) as string], reference).toBeDefined();
    }
  });

  it('lists the collector alone on ingest', async () => {
    const { document } = await docsOf('ingest');
    expect(document.info.title).toBe('nexttap collector');
    expect(Object.keys(document.paths).sort()).toEqual(['/docs', '/docs/openapi.json', '/healthz', '/metrics', '/readyz', '/v1/catalog', '/v1/events']);
    expect((await (server as RunningServer).app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()).toEqual(document);
  });

  it('lists the feed routes alone on ranker', async () => {
    const { document } = await docsOf('ranker');
    expect(Object.keys(document.paths).sort()).toEqual(['/docs', '/docs/openapi.json', '/healthz', '/metrics', '/readyz', '/v1/feed', '/v1/feed/live']);
    expect(document.info.title).toBe('nexttap ranker');
  });
});
