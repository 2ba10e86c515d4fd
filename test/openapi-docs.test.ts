import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { EPOCH_SECONDS_LIMIT, INTERACTION_TYPES, MAX_ID_LENGTH, REJECTION_REASONS } from '@nexttap/events';
import { createLogger } from '@nexttap/observability';
import { afterEach, describe, expect, it } from 'vitest';
import { MODEL_DIR } from './feed-scenario';

const logger = createLogger({ level: 'silent', service: 'openapi-docs' });

let server: RunningServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function docsOf(role: 'ingest' | 'ranker' | 'all') {
  server = await startServer(role, parseServerConfig({ PORT: '0', SEED_DATASET: 'none', LOG_LEVEL: 'silent', MODEL_DIR }), { logger });
  const response = await server.app.inject({ method: 'GET', url: '/docs' });
  expect(response.statusCode).toBe(200);
  return response.json();
}

describe('the OpenAPI document at /docs', () => {
  it('lists collector and feed routes together', async () => {
    const document = await docsOf('all');
    expect(Object.keys(document.paths).sort()).toEqual(['/v1/catalog', '/v1/events', '/v1/feed', '/v1/feed/live']);
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
    const document = await docsOf('ingest');
    expect(document.info.title).toBe('nexttap collector');
    expect(Object.keys(document.paths).sort()).toEqual(['/v1/catalog', '/v1/events']);
    expect((await (server as RunningServer).app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()).toEqual(document);
  });

  it('lists the feed routes alone on ranker', async () => {
    const document = await docsOf('ranker');
    expect(Object.keys(document.paths).sort()).toEqual(['/v1/feed', '/v1/feed/live']);
    expect(document.info.title).toBe('nexttap ranker');
  });
});
