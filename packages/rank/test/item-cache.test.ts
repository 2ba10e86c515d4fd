import { validateCatalogItem, validateInteraction, type CatalogItemInput, type InteractionInput } from '@nexttap/events';
import { applyCatalogItems, applyInteractions, covisitListRequests, ITEM_STAT_FIELDS, readSessionSnapshot, type FeatureStore, type ItemSnapshot } from '@nexttap/features';
import { loadRankingModel } from '@nexttap/model';
import { MemoryFeatureStore } from '@nexttap/store';
import { describe, expect, it } from 'vitest';
import { cacheLandmarkOf, ItemCache, PoolCache, rankFeed, readItems, readItemsCached, seededRandom, UNLIMITED_STORE_BUDGET, type FeedQuery, type RankingEntry } from '../src/index';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const MODEL_DIR = new URL('../../../models/movielens-mlp/1', import.meta.url).pathname;
const ITEM_IDS = Array.from({ length: 12 }, (_, index) => `item-${index}`);
let eventCount = 0;

async function writeCatalog(store: FeatureStore, inputs: readonly CatalogItemInput[]): Promise<void> {
  await applyCatalogItems(
    store,
    inputs.map((input) => {
      const result = validateCatalogItem(input);
      if (!result.ok) throw new Error(result.rejection.message);
      return result.value;
    }),
  );
}

async function writeEvents(store: FeatureStore, nowMs: number, events: ReadonlyArray<Partial<InteractionInput>>): Promise<void> {
  const valid = events.map((partial) => {
    const result = validateInteraction({ eventId: `cache-${eventCount++}`, type: 'tap', ts: nowMs - 1_000, sessionId: 'crowd', itemId: 'item-0', ...partial }, { nowMs });
    if (!result.ok) throw new Error(result.rejection.message);
    return result.value;
  });
  await applyInteractions(store, valid);
}

/** Builds a store with a catalog, crowd history, and a session that tapped, saw and co-visited items. */
async function seededStore(): Promise<MemoryFeatureStore> {
  const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
  await writeCatalog(
    store,
    ITEM_IDS.map((itemId, index) => ({ itemId, categories: [index % 2 === 0 ? 'Drama' : 'Comedy'], creatorId: `creator-${index % 3}`, publishedAt: NOW_MS - index * 3_600_000 })),
  );
  const crowd: Array<Partial<InteractionInput>> = [];
  ITEM_IDS.forEach((itemId, index) => {
    for (let repeat = 0; repeat <= index % 4; repeat++) {
      crowd.push({ itemId, type: 'impression', sessionId: `crowd-${repeat}`, ts: NOW_MS - 3_600_000 * repeat - 1_000 });
      crowd.push({ itemId, type: repeat % 2 === 0 ? 'play' : 'like', sessionId: `crowd-${repeat}`, dwellMs: 40_000, ts: NOW_MS - 3_600_000 * repeat - 500 });
    }
  });
  await writeEvents(store, NOW_MS, crowd);
  await writeEvents(store, NOW_MS, [
    { sessionId: 'viewer', itemId: 'item-1', type: 'impression', ts: NOW_MS - 9_000 },
    { sessionId: 'viewer', itemId: 'item-1', type: 'tap', ts: NOW_MS - 8_000 },
    { sessionId: 'viewer', itemId: 'item-2', type: 'impression', ts: NOW_MS - 7_000 },
    { sessionId: 'viewer', itemId: 'item-3', type: 'play', dwellMs: 30_000, ts: NOW_MS - 6_000 },
  ]);
  return store;
}

/** Wraps `store` so that `afterRead` runs when each read has its results and before they are returned. */
function runningAfterEachRead(store: FeatureStore, afterRead: () => void): FeatureStore {
  return {
    apply: (writes) => store.apply(writes),
    read: async (requests) => {
      const results = await store.read(requests);
      afterRead();
      return results;
    },
    close: () => store.close(),
  };
}

/**
 * Relative difference allowed between a cached and an uncached decayed counter. The cache moves
 * snapshots to a per-minute landmark, which changes a value by rounding only, about 1e-16. A
 * counter one second stale at the 10-minute half-life differs by about 1e-3.
 */
const ROUNDING_TOLERANCE = 1e-12;

function expectCloseNumber(actual: number, expected: number, label: string): void {
  expect(Math.abs(actual - expected), `${label}: ${actual} against ${expected}`).toBeLessThanOrEqual(ROUNDING_TOLERANCE * Math.max(1, Math.abs(expected)));
}

/** Expects snapshots equal to `expected` in every field, with decayed counters equal up to rounding. */
function expectSnapshotsClose(actual: readonly ItemSnapshot[], expected: readonly ItemSnapshot[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((want, index) => {
    const got = actual[index] as ItemSnapshot;
    const { stats: gotStats, ...gotFields } = got;
    const { stats: wantStats, ...wantFields } = want;
    for (const [field, value] of Object.entries(wantFields)) {
      const gotValue = (gotFields as Record<string, unknown>)[field];
      if (typeof value === 'number') {
        expectCloseNumber(gotValue as number, value, `${want.itemId}.${field}`);
      } else {
        expect(gotValue, `${want.itemId}.${field}`).toEqual(value);
      }
    }
    ITEM_STAT_FIELDS.forEach((field, statIndex) => {
      expectCloseNumber(gotStats.at(statIndex), wantStats.at(statIndex), `${want.itemId} stat ${field}`);
    });
  });
}

/**
 * Expects a ranking equal to `expected` in order and in every field, with scores within 1e-6: a
 * counter that differs by rounding can move a float32 feature by one unit in the last place.
 */
function expectRankingClose(actual: readonly RankingEntry[], expected: readonly RankingEntry[], label: string): void {
  expect(actual.map((entry) => entry.itemId), label).toEqual(expected.map((entry) => entry.itemId));
  expected.forEach((want, index) => {
    const { score: gotScore, impressions: gotImpressions, taps: gotTaps, ...got } = actual[index] as RankingEntry & { impressions?: number; taps?: number };
    const { score: wantScore, impressions: wantImpressions, taps: wantTaps, ...rest } = want as RankingEntry & { impressions?: number; taps?: number };
    expect(Math.abs(gotScore - wantScore), `${label} score of ${want.itemId}`).toBeLessThanOrEqual(1e-6);
    expectCloseNumber(gotImpressions ?? 0, wantImpressions ?? 0, `${label} impressions of ${want.itemId}`);
    expectCloseNumber(gotTaps ?? 0, wantTaps ?? 0, `${label} taps of ${want.itemId}`);
    expect(got, `${label} ${want.itemId}`).toEqual(rest);
  });
}

describe('readItemsCached', () => {
  it('matches readItems, cold and warm', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const expected = await readItems(store, ITEM_IDS, NOW_MS, UNLIMITED_STORE_BUDGET, session);
    expect(expected.some((item) => item.covisitScore > 0)).toBe(true);
    expect(expected.some((item) => item.seenInSession)).toBe(true);

    const cache = new ItemCache({ maxAgeMs: 1_000 });
    const cold = await readItemsCached(store, cache, ITEM_IDS, NOW_MS, UNLIMITED_STORE_BUDGET, session);
    const lists = await store.read(covisitListRequests(session));
    const warm = await readItemsCached(store, cache, ITEM_IDS, NOW_MS, UNLIMITED_STORE_BUDGET, session, lists);

    expectSnapshotsClose(cold, expected);
    expectSnapshotsClose(warm, expected);
    expect(cache.size).toBe(ITEM_IDS.length);
  });

  it('decays cached counters to the time of each request', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 1_000 });
    await readItemsCached(store, cache, ITEM_IDS, NOW_MS, UNLIMITED_STORE_BUDGET, session);

    const laterMs = NOW_MS + 900;
    const expected = await readItems(store, ITEM_IDS, laterMs, UNLIMITED_STORE_BUDGET, session);
    const cached = await readItemsCached(store, cache, ITEM_IDS, laterMs, UNLIMITED_STORE_BUDGET, session);

    expectSnapshotsClose(cached, expected);
    expect(cached[5]?.positiveMinutes).toBeLessThan((await readItems(store, ITEM_IDS, NOW_MS, UNLIMITED_STORE_BUDGET, session))[5]?.positiveMinutes as number);
  });

  it('decays entries read in the previous minute', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 1_000 });
    await readItemsCached(store, cache, ITEM_IDS.slice(0, 6), NOW_MS - 500, UNLIMITED_STORE_BUDGET, session);
    await readItemsCached(store, cache, ITEM_IDS.slice(6), NOW_MS + 100, UNLIMITED_STORE_BUDGET, session);

    const laterMs = NOW_MS + 400;
    const cached = await readItemsCached(store, cache, ITEM_IDS, laterMs, UNLIMITED_STORE_BUDGET, session);

    expect(cacheLandmarkOf(NOW_MS - 500)).not.toBe(cacheLandmarkOf(NOW_MS + 100));
    expectSnapshotsClose(cached, await readItems(store, ITEM_IDS, laterMs, UNLIMITED_STORE_BUDGET, session));
  });

  it('serves an entry until maxAgeMs and reads it again after', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 1_000 });
    const before = await readItemsCached(store, cache, ['item-5'], NOW_MS, UNLIMITED_STORE_BUDGET, session);
    await writeEvents(store, NOW_MS, [{ itemId: 'item-5', type: 'like', sessionId: 'crowd-9', ts: NOW_MS - 100 }]);

    const withinAge = await readItemsCached(store, cache, ['item-5'], NOW_MS + 1_000, UNLIMITED_STORE_BUDGET, session);
    const pastAge = await readItemsCached(store, cache, ['item-5'], NOW_MS + 1_001, UNLIMITED_STORE_BUDGET, session);

    expect(withinAge[0]?.likes).toBeLessThan(before[0]?.likes as number);
    expect(pastAge[0]?.likes).toBeGreaterThan(before[0]?.likes as number);
    expectSnapshotsClose(pastAge, await readItems(store, ['item-5'], NOW_MS + 1_001, UNLIMITED_STORE_BUDGET, session));
  });

  it('reads what the session saw on every request', async () => {
    const store = await seededStore();
    const cache = new ItemCache({ maxAgeMs: 60_000 });
    const first = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    await readItemsCached(store, cache, ITEM_IDS, NOW_MS, UNLIMITED_STORE_BUDGET, first.session);
    await writeEvents(store, NOW_MS, [{ sessionId: 'viewer', itemId: 'item-7', type: 'impression', ts: NOW_MS - 50 }]);

    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const items = await readItemsCached(store, cache, ITEM_IDS, NOW_MS, UNLIMITED_STORE_BUDGET, session);

    expect(items[7]?.seenInSession).toBe(true);
  });

  it('reads every item on every request with maxAgeMs 0', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 0 });
    await readItemsCached(store, cache, ['item-4'], NOW_MS, UNLIMITED_STORE_BUDGET, session);
    await writeCatalog(store, [{ itemId: 'item-4', categories: ['News'], live: true }]);

    const items = await readItemsCached(store, cache, ['item-4'], NOW_MS, UNLIMITED_STORE_BUDGET, session);

    expect(items[0]?.catalog?.categories).toEqual(['News']);
    expect(items[0]?.catalog?.live).toBe(true);
  });

  it('reads an invalidated item again while its max age has not passed', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 60_000 });
    await readItemsCached(store, cache, ['item-5', 'item-6'], NOW_MS, UNLIMITED_STORE_BUDGET, session);
    await writeEvents(store, NOW_MS, [{ itemId: 'item-5', type: 'like', sessionId: 'crowd-9', ts: NOW_MS - 100 }]);
    cache.invalidate(['item-5']);

    const items = await readItemsCached(store, cache, ['item-5', 'item-6'], NOW_MS + 10, UNLIMITED_STORE_BUDGET, session);

    expectSnapshotsClose(items, await readItems(store, ['item-5', 'item-6'], NOW_MS + 10, UNLIMITED_STORE_BUDGET, session));
    expect(cache.fresh('item-5', NOW_MS + 10)).toBeDefined();
  });

  it('does not keep a read that raced a notice', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 60_000 });
    // The notice arrives after the read was planned and before its reply is stored.
    const racing = runningAfterEachRead(store, () => cache.invalidate(['item-5']));

    const items = await readItemsCached(racing, cache, ['item-5', 'item-6'], NOW_MS, UNLIMITED_STORE_BUDGET, session);

    expect(items.map((item) => item.itemId)).toEqual(['item-5', 'item-6']);
    expect(cache.fresh('item-5', NOW_MS)).toBeUndefined();
    expect(cache.fresh('item-6', NOW_MS)).toBeDefined();
  });

  it('keeps no read that was in flight when the cache was cleared', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 60_000 });
    const clearing = runningAfterEachRead(store, () => cache.clear());

    await readItemsCached(clearing, cache, ['item-5', 'item-6'], NOW_MS, UNLIMITED_STORE_BUDGET, session);

    expect(cache.fresh('item-5', NOW_MS)).toBeUndefined();
    expect(cache.fresh('item-6', NOW_MS)).toBeUndefined();
  });

  it('treats an entry read after the request time as stale', async () => {
    const store = await seededStore();
    const { session } = await readSessionSnapshot(store, 'viewer', undefined, NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 1_000 });
    await readItemsCached(store, cache, ['item-4'], NOW_MS, UNLIMITED_STORE_BUDGET, session);
    await writeCatalog(store, [{ itemId: 'item-4', categories: ['News'] }]);

    const items = await readItemsCached(store, cache, ['item-4'], NOW_MS - 1, UNLIMITED_STORE_BUDGET, session);

    expect(items[0]?.catalog?.categories).toEqual(['News']);
  });
});

describe('ItemCache', () => {
  it('drops the oldest reads past maxItems', () => {
    const cache = new ItemCache({ maxAgeMs: 1_000, maxItems: 10 });
    for (let index = 0; index < 25; index++) {
      cache.store(`item-${index}`, null, null, NOW_MS);
    }

    expect(cache.size).toBeLessThanOrEqual(10);
    expect(cache.fresh('item-24', NOW_MS)).toBeDefined();
    expect(cache.fresh('item-0', NOW_MS)).toBeUndefined();
  });

  it('keeps the global counters 1 s', () => {
    const cache = new ItemCache({ maxAgeMs: 60_000 });
    const global = { kind: 'hash', value: { impressions: '10' } } as const;
    cache.storeGlobal(global, NOW_MS);

    expect(cache.freshGlobal(NOW_MS + 1_000)).toBe(global);
    expect(cache.freshGlobal(NOW_MS + 1_001)).toBeUndefined();
  });

  it('distrusts reads in flight past maxItems invalidations', () => {
    const cache = new ItemCache({ maxAgeMs: 60_000, maxItems: 10 });
    cache.store('item-kept', null, null, NOW_MS);
    const plannedAt = cache.changeCount;
    for (let index = 0; index < 25; index++) {
      cache.invalidate([`item-${index}`]);
    }
    cache.store('item-late', null, null, NOW_MS, plannedAt);
    cache.store('item-next', null, null, NOW_MS);

    expect(cache.fresh('item-late', NOW_MS)).toBeUndefined();
    expect(cache.fresh('item-next', NOW_MS)).toBeDefined();
  });

  it('keeps the parsed record when the catalog text is unchanged', () => {
    const cache = new ItemCache({ maxAgeMs: 1_000 });
    const text = JSON.stringify({ itemId: 'item-1', categories: ['Drama'] });
    const first = cache.store('item-1', null, text, NOW_MS);
    const second = cache.store('item-1', null, text, NOW_MS + 500);

    expect(second.catalog).toBe(first.catalog);
    expect(cache.fresh('item-1', NOW_MS + 1_500)).toBe(second);
  });
});

describe('rankFeed with an item cache', () => {
  it('ranks as it does without one', async () => {
    const store = await seededStore();
    const model = await loadRankingModel(MODEL_DIR);
    const pools = new PoolCache(store);
    await pools.refresh(NOW_MS);
    const cache = new ItemCache({ maxAgeMs: 1_000 });
    const queries: FeedQuery[] = [
      { sessionId: 'viewer', limit: 5, candidates: [...ITEM_IDS, 'not-in-catalog'], exclude: ['item-9'] },
      { sessionId: 'viewer', userId: 'u1', limit: 5 },
      { sessionId: 'new-session', limit: 5, candidates: ITEM_IDS },
    ];
    try {
      for (const query of queries) {
        for (let round = 0; round < 2; round++) {
          const context = { store, model, pools: pools.current, nowMs: NOW_MS + round * 10 };
          const expected = await rankFeed(query, { ...context, random: seededRandom(3) });
          const cached = await rankFeed(query, { ...context, random: seededRandom(3), itemCache: cache });

          expect(expected.items.length, JSON.stringify(query)).toBeGreaterThan(0);
          expect(cached.degraded, JSON.stringify(query)).toBeUndefined();
          expectRankingClose(cached.items, expected.items, JSON.stringify(query));
          expectRankingClose(cached.ranking, expected.ranking, JSON.stringify(query));
          expect(cached.candidateCount).toBe(expected.candidateCount);
        }
      }
    } finally {
      await model.release();
    }
  });
});
