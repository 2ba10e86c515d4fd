import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateCatalogItem, validateInteraction, type CatalogItemInput, type InteractionInput } from '@nexttap/events';
import { planCatalogItem, planInteraction } from '@nexttap/features';
import { writeLinearModel } from '@nexttap/model';
import { createLogger, createMetricsRegistry } from '@nexttap/observability';
import { MemoryFeatureStore } from '@nexttap/store';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_CANDIDATES, Ranker, rankerConfigSchema } from '../src/index';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const logger = createLogger({ level: 'silent', service: 'ranker-test' });

const CATALOG: CatalogItemInput[] = [
  { itemId: 'drama-1', categories: ['Drama'] },
  { itemId: 'drama-2', categories: ['Drama'] },
  { itemId: 'comedy-1', categories: ['Comedy'] },
  { itemId: 'comedy-2', categories: ['Comedy'] },
  { itemId: 'war-1', categories: ['War', 'Drama'] },
];

let directory: string;
let store: MemoryFeatureStore;
let ranker: Ranker;
let app: FastifyInstance;
let eventCount = 0;

async function record(events: Array<Partial<InteractionInput>>): Promise<void> {
  const catalog = new Map(CATALOG.map((input) => [input.itemId, input]));
  for (const partial of events) {
    const raw = { eventId: `e-${eventCount++}`, type: 'tap', ts: NOW_MS - 60_000, sessionId: 's-1', itemId: 'drama-1', ...partial };
    const result = validateInteraction(raw, { nowMs: NOW_MS });
    if (!result.ok) throw new Error(result.rejection.message);
    const item = validateCatalogItem(catalog.get(result.value.itemId));
    await store.apply([planInteraction(result.value, item.ok ? item.value : undefined)]);
  }
}

async function feed(body: unknown) {
  return app.inject({ method: 'POST', url: '/v1/feed', payload: body as object });
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nexttap-ranker-'));
  // Score = popularity + 10 × session affinity, so the expected order is known.
  await writeLinearModel(directory, { item_popularity_week: 1, session_category_affinity: 10 });
  store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
  for (const input of CATALOG) {
    const item = validateCatalogItem(input);
    if (item.ok) await store.apply([planCatalogItem(item.value)]);
  }
  await record([
    { sessionId: 'crowd', itemId: 'comedy-1' },
    { sessionId: 'crowd', itemId: 'comedy-1', type: 'like' },
    { sessionId: 'crowd', itemId: 'comedy-2' },
    { sessionId: 'crowd', itemId: 'drama-2' },
  ]);
  const config = rankerConfigSchema.parse({ modelDir: directory });
  ranker = new Ranker({ config, store, logger, metrics: createMetricsRegistry(), clock: () => NOW_MS });
  app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
  await ranker.register(app);
  await ranker.start();
});

afterAll(async () => {
  await app.close();
  await ranker.stop();
  await rm(directory, { recursive: true, force: true });
});

describe('POST /v1/feed', () => {
  it('returns a ranked feed with the model', async () => {
    const response = await feed({ sessionId: 'new-session', limit: 3 });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.feedId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.model).toEqual({ name: 'linear', version: '1', variant: 'default' });
    expect(body.items).toHaveLength(3);
    expect(body.items[0].itemId).toBe('comedy-1');
    expect(body.items.map((item: { position: number }) => item.position)).toEqual([0, 1, 2]);
    const scores = body.items.map((item: { score: number }) => item.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('lifts the categories the session tapped', async () => {
    await record([{ sessionId: 'drama-fan', itemId: 'war-1', type: 'like' }]);
    await ranker.pools.refresh(NOW_MS);
    const body = (await feed({ sessionId: 'drama-fan', limit: 5 })).json();
    const itemIds = body.items.map((item: { itemId: string }) => item.itemId);
    expect(itemIds[0]).toMatch(/^drama-/);
    expect(itemIds).not.toContain('war-1');
  });

  it('re-ranks the given candidates and flags unknown ones', async () => {
    const body = (await feed({ sessionId: 'new-session', candidates: ['drama-1', 'comedy-1', 'nowhere'] })).json();
    expect(body.items.map((item: { itemId: string }) => item.itemId)).toEqual(['comedy-1', 'drama-1', 'nowhere']);
    expect(body.items[0].sources).toEqual(['request']);
    expect(body.items[2].unknown).toBe(true);
    expect(body.items[0].unknown).toBeUndefined();
  });

  it('drops excluded items', async () => {
    const body = (await feed({ sessionId: 'new-session', candidates: ['drama-1', 'comedy-1'], exclude: ['comedy-1'] })).json();
    expect(body.items.map((item: { itemId: string }) => item.itemId)).toEqual(['drama-1']);
  });

  it.each([
    [{}, 'sessionId'],
    [{ sessionId: 's', limit: 0 }, 'limit'],
    [{ sessionId: 's', limit: 101 }, 'limit'],
    [{ sessionId: 's', limit: 'ten' }, 'limit'],
    [{ sessionId: '' }, 'sessionId'],
    [{ sessionId: 's', candidates: [] }, 'candidates'],
    [{ sessionId: 's', candidates: Array.from({ length: MAX_REQUEST_CANDIDATES + 1 }, (_, index) => `i${index}`) }, 'candidates'],
    [{ sessionId: 's', candidates: [42] }, 'candidates.0'],
  ])('rejects %j naming %s', async (body, field) => {
    const response = await feed(body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RANKER_ERR_INVALID_REQUEST');
    expect(response.json().error.field).toBe(field);
    expect(response.json().error.message).toContain(field.split('.')[0]);
  });

  it('rejects malformed JSON with its own code', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', payload: '{"sessionId":', headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RANKER_ERR_INVALID_JSON');
  });

  it('names an unknown field', async () => {
    const response = await feed({ sessionId: 's', colour: 'red' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.field).toBe('colour');
  });
});
