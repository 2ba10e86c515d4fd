import { toWireCatalogItem, type Interaction } from '@nexttap/events';
import { applyCatalogItems, applyInteractions, ITEM_STAT_FIELDS, readItemSnapshots, readSessionSnapshot } from '@nexttap/features';
import { RedisFeatureStore } from '@nexttap/store';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Workload } from './workload';

/** Relative difference allowed between two decayed values: their sums ran in other batches, so in another order. */
const RELATIVE_TOLERANCE = 1e-9;
/** Events applied per store call when building the reference state, as one ingest batch would. */
const REFERENCE_BATCH = 500;
/** Sessions whose snapshots are read concurrently, in pipelined round trips, during a comparison. */
const SESSIONS_READ_TOGETHER = 200;

/** Opens a feature store on a Redis URL with a key prefix; `close` quits the client. */
export function openStore(url: string, keyPrefix: string): { store: RedisFeatureStore; redis: Redis; close(): Promise<void> } {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  return { store: new RedisFeatureStore(redis, { keyPrefix }), redis, close: async () => void (await redis.quit()) };
}

/**
 * Builds the state of an uninterrupted run: the catalog (when given), then every event once, in
 * produce order, through the same feature code that ingest runs.
 */
export async function applyReference(url: string, keyPrefix: string, workload: Pick<Workload, 'catalog'> | undefined, events: readonly Interaction[]): Promise<void> {
  const { store, close } = openStore(url, keyPrefix);
  try {
    if (workload !== undefined) {
      // The catalog travels as JSON on the topic; the reference applies what ingest reads back.
      await applyCatalogItems(store, workload.catalog.map((item) => JSON.parse(JSON.stringify(toWireCatalogItem(item)))));
    }
    for (let start = 0; start < events.length; start += REFERENCE_BATCH) {
      await applyInteractions(store, events.slice(start, start + REFERENCE_BATCH));
    }
  } finally {
    await close();
  }
}

/** Counts the eventId de-duplication keys under a prefix: one per applied event. */
export async function countAppliedEvents(redis: Redis, keyPrefix: string): Promise<number> {
  let count = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${keyPrefix}s:{*}:event:*`, 'COUNT', 5_000);
    cursor = next;
    count += found.length;
  } while (cursor !== '0');
  return count;
}

/** Returns the eventIds with a de-duplication key under a prefix. */
export async function appliedEventIds(redis: Redis, keyPrefix: string): Promise<Set<string>> {
  const eventIds = new Set<string>();
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${keyPrefix}s:{*}:event:*`, 'COUNT', 5_000);
    cursor = next;
    for (const key of found) {
      eventIds.add(key.slice(key.indexOf(':event:') + ':event:'.length));
    }
  } while (cursor !== '0');
  return eventIds;
}

function expectClose(actual: number, expected: number, label: string): void {
  const scale = Math.max(Math.abs(actual), Math.abs(expected), 1e-300);
  expect(Math.abs(actual - expected) / scale, `${label}: ${actual} vs ${expected}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
}

function expectCloseMaps(actual: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>, label: string): void {
  expect([...actual.keys()].sort(), `${label} keys`).toEqual([...expected.keys()].sort());
  for (const [key, value] of expected) {
    expectClose(actual.get(key) ?? Number.NaN, value, `${label} ${key}`);
  }
}

/**
 * Compares the features of two stores at one instant: every item's decayed counters, catalog
 * record and the global priors, and every session's recent events, counters, affinities and
 * engaged items with its user's. Co-visitation lists are left out, because their trimming to the
 * top 50 neighbours depends on the order in which sessions on different partitions arrive.
 */
export async function expectSameFeatures(
  actualStore: RedisFeatureStore,
  expectedStore: RedisFeatureStore,
  scope: { itemIds: readonly string[]; sessionIds: readonly string[]; userOf: ReadonlyMap<string, string> },
  nowMs: number,
): Promise<void> {
  const [actualItems, expectedItems] = await Promise.all([readItemSnapshots(actualStore, scope.itemIds, nowMs), readItemSnapshots(expectedStore, scope.itemIds, nowMs)]);
  expectedItems.forEach((expected, index) => {
    const actual = actualItems[index];
    expect(actual?.itemId).toBe(expected.itemId);
    expect(actual?.catalog, `catalog of ${expected.itemId}`).toEqual(expected.catalog);
    for (const field of ITEM_STAT_FIELDS) {
      expectClose(actual?.stats.get(field) ?? Number.NaN, expected.stats.get(field) ?? Number.NaN, `${field} of ${expected.itemId}`);
    }
    expectClose(actual?.priors.tapRate ?? Number.NaN, expected.priors.tapRate, 'tap-rate prior');
    expectClose(actual?.priors.completionRate ?? Number.NaN, expected.priors.completionRate, 'completion-rate prior');
  });

  for (let start = 0; start < scope.sessionIds.length; start += SESSIONS_READ_TOGETHER) {
    const sessionIds = scope.sessionIds.slice(start, start + SESSIONS_READ_TOGETHER);
    const snapshots = await Promise.all(
      sessionIds.map((sessionId) => {
        const userId = scope.userOf.get(sessionId);
        return Promise.all([readSessionSnapshot(actualStore, sessionId, userId, nowMs), readSessionSnapshot(expectedStore, sessionId, userId, nowMs)]);
      }),
    );
    sessionIds.forEach((sessionId, index) => expectSameSession(sessionId, scope.userOf.get(sessionId), snapshots[index] as SnapshotPair));
  }
}

type SnapshotPair = [Awaited<ReturnType<typeof readSessionSnapshot>>, Awaited<ReturnType<typeof readSessionSnapshot>>];

function expectSameSession(sessionId: string, userId: string | undefined, [actual, expected]: SnapshotPair): void {
  expect(actual.session.events, `events of ${sessionId}`).toBe(expected.session.events);
  expect(actual.session.recent, `recent events of ${sessionId}`).toEqual(expected.session.recent);
  expect(actual.session.lastTs, `lastTs of ${sessionId}`).toBe(expected.session.lastTs);
  expect(actual.session.lastPositiveTs, `lastPositiveTs of ${sessionId}`).toBe(expected.session.lastPositiveTs);
  expect([...actual.session.interacted].sort(), `engaged items of ${sessionId}`).toEqual([...expected.session.interacted].sort());
  expectCloseMaps(actual.session.categoryAffinity, expected.session.categoryAffinity, `category affinity of ${sessionId}`);
  expectCloseMaps(actual.session.creatorAffinity, expected.session.creatorAffinity, `creator affinity of ${sessionId}`);
  if (expected.user !== undefined) {
    expectCloseMaps(actual.user?.categoryAffinity ?? new Map(), expected.user.categoryAffinity, `category affinity of ${userId}`);
    expect([...(actual.user?.interacted ?? [])].sort(), `engaged items of ${userId}`).toEqual([...expected.user.interacted].sort());
  }
}
