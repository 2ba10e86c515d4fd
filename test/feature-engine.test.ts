import {
  applyCatalogItems,
  applyInteractions,
  buildFeatureMatrix,
  FEATURE_REGISTRY,
  ITEM_STAT_FIELDS,
  keys,
  readItemSnapshots,
  readSessionSnapshot,
  type FeatureStore,
} from '@nexttap/features';
import type { CatalogItem, Interaction } from '@nexttap/events';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { MemoryFeatureStore, RedisFeatureStore } from '@nexttap/store';
import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOVIELENS_DIR } from './feed-scenario';

/** MovieLens events replayed by these tests: enough for many sessions, fast enough for CI. */
const EVENT_COUNT = 6_000;
const BATCH = 500;

let redis: RedisServer;
const clients: Redis[] = [];
let catalog: CatalogItem[];
let events: Interaction[];
let nowMs: number;

function redisStore(): RedisFeatureStore {
  const client = new Redis(redis.url);
  clients.push(client);
  return new RedisFeatureStore(client, { keyPrefix: `${uniqueName('engine')}:` });
}

async function replay(store: FeatureStore, stream: readonly Interaction[], batchSize = BATCH): Promise<void> {
  for (let start = 0; start < stream.length; start += batchSize) {
    await applyInteractions(store, stream.slice(start, start + batchSize));
  }
}

/** Returns a seeded shuffle of the events, so failures reproduce. */
function shuffled<T>(values: readonly T[], seed: number): T[] {
  const copy = [...values];
  let state = seed;
  for (let index = copy.length - 1; index > 0; index--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const other = state % (index + 1);
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let index = 0; index < expected.length; index++) {
    const a = actual[index] as number;
    const b = expected[index] as number;
    expect(Math.abs(a - b), `${label}[${index}]: ${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));
  }
}

beforeAll(async () => {
  redis = await startRedisServer();
  catalog = await readMovieLensCatalog(MOVIELENS_DIR);
  // The history is moved to end now, and the slice covers its most recent events.
  nowMs = Date.now();
  events = (await readMovieLensEvents(MOVIELENS_DIR, { shiftToMs: nowMs - 60_000 })).slice(-EVENT_COUNT);
}, 60_000);

afterAll(async () => {
  for (const client of clients) {
    client.disconnect();
  }
  await redis?.stop();
});

describe('feature engine', () => {
  it('builds identical feature matrices in Redis and in memory', async () => {
    const memory = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    const onRedis = redisStore();
    for (const store of [memory, onRedis]) {
      await applyCatalogItems(store, catalog);
      await replay(store, events);
    }
    const sessions = [...new Set(events.map((event) => `${event.sessionId}|${event.userId}`))].slice(-40);
    const itemIds = [...new Set(events.map((event) => event.itemId))].slice(0, 300);
    for (const entry of sessions) {
      const [sessionId, userId] = entry.split('|') as [string, string];
      const matrices = [];
      for (const store of [memory, onRedis]) {
        const { session, user } = await readSessionSnapshot(store, sessionId, userId, nowMs);
        const items = await readItemSnapshots(store, itemIds, nowMs, session);
        matrices.push(buildFeatureMatrix(FEATURE_REGISTRY, session, user, items, nowMs).data);
      }
      expectClose(matrices[1] as Float32Array, matrices[0] as Float32Array, `session ${sessionId}`);
    }
  });

  it('fills each matrix cell as its feature computes it', async () => {
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    await applyCatalogItems(store, catalog);
    await replay(store, events);
    const sessions = [...new Set(events.map((event) => `${event.sessionId}|${event.userId}`))].slice(-20);
    const itemIds = [...new Set(events.map((event) => event.itemId))].slice(0, 100);
    for (const entry of sessions) {
      const [sessionId, userId] = entry.split('|') as [string, string];
      const { session, user } = await readSessionSnapshot(store, sessionId, userId, nowMs);
      const items = await readItemSnapshots(store, itemIds, nowMs, session);
      const matrix = buildFeatureMatrix(FEATURE_REGISTRY, session, user, items, nowMs);
      // A matrix computes each sameForEveryItem feature once, so every cell is checked against
      // the feature's value for that row's item.
      const expected = items.flatMap((item) =>
        FEATURE_REGISTRY.map((feature) => {
          const value = feature.compute({ session, user, item, nowMs });
          return value === undefined || !Number.isFinite(value) ? feature.defaultValue : Math.fround(value);
        }),
      );
      expect([...matrix.data], `session ${sessionId}`).toEqual(expected);
    }
  });

  it('gets the same item counters from two shuffled concurrent consumers', async () => {
    const inOrder = redisStore();
    await applyCatalogItems(inOrder, catalog);
    await replay(inOrder, events);

    const shared = new Redis(redis.url);
    clients.push(shared);
    const prefix = `${uniqueName('concurrent')}:`;
    const consumers = [new RedisFeatureStore(shared, { keyPrefix: prefix }), new RedisFeatureStore(new Redis(redis.url), { keyPrefix: prefix })];
    await applyCatalogItems(consumers[0] as FeatureStore, catalog);
    const mixed = shuffled(events, 7);
    const halves = [mixed.filter((_, index) => index % 2 === 0), mixed.filter((_, index) => index % 2 === 1)];
    await Promise.all(consumers.map((store, index) => replay(store, halves[index] as Interaction[], 250)));

    const itemIds = [...new Set(events.map((event) => event.itemId))];
    const expected = await readItemSnapshots(inOrder, itemIds, nowMs);
    const actual = await readItemSnapshots(consumers[0] as FeatureStore, itemIds, nowMs);
    expected.forEach((item, index) => {
      const other = actual[index];
      expectClose(
        ITEM_STAT_FIELDS.map((field) => other?.stats.get(field) ?? 0),
        ITEM_STAT_FIELDS.map((field) => item.stats.get(field) ?? 0),
        `item ${item.itemId}`,
      );
    });
  });

  it('changes nothing when a processed batch is delivered again', async () => {
    const client = new Redis(redis.url);
    clients.push(client);
    const prefix = `${uniqueName('redelivery')}:`;
    const store = new RedisFeatureStore(client, { keyPrefix: prefix });
    await applyCatalogItems(store, catalog);
    const batch = events.slice(0, 400);
    expect((await applyInteractions(store, batch)).every(Boolean)).toBe(true);

    const dump = async () => {
      const names = (await client.keys(`${prefix}*`)).filter((name) => !name.includes(':event:')).sort();
      return Promise.all(names.map(async (name) => [name, await client.dump(name)] as const));
    };
    const before = await dump();
    const mixedBatch = [...batch.slice(200), ...batch.slice(0, 200)];
    expect((await applyInteractions(store, mixedBatch)).some(Boolean)).toBe(false);
    expect(await dump()).toEqual(before);
  });

  it('bounds every key family with a TTL or a size cap', async () => {
    const client = new Redis(redis.url);
    clients.push(client);
    const prefix = `${uniqueName('bounds')}:`;
    const store = new RedisFeatureStore(client, { keyPrefix: prefix });
    await applyCatalogItems(store, catalog);
    await replay(store, events.slice(0, 2_000));
    const names = await client.keys(`${prefix}*`);
    for (const name of names) {
      const ttlMs = await client.pttl(name);
      const family = name.slice(prefix.length);
      // Catalog records, pools and their landmarks are bounded by the catalog and pool sizes.
      const sizeBounded = /^(i:\{[^}]*\}:catalog|\{pool\}:)/.test(family) || family.endsWith(':landmark');
      expect(ttlMs > 0 || sizeBounded, `${family} has no TTL`).toBe(true);
    }
    expect(await client.exists(prefix + keys.globalStats())).toBe(1);
  });
});
