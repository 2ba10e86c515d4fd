import { keys, type PlannedWrite } from '@nexttap/features';
import { describe, expect, it } from 'vitest';
import { MemoryFeatureStore, type MemoryEviction } from '../src/index';

const NOW_MS = Date.UTC(2026, 0, 1);
const DAY_MS = 86_400_000;
/** About the size of one served feed record of 200 candidates. */
const RANKING_TEXT = 'r'.repeat(4_000);

/** Returns the writes of one served feed record, as `planServedFeed` lays them out. */
function feedRecord(sessionId: string, feedId: string): PlannedWrite {
  const key = `s:{${sessionId}}:feed:${feedId}`;
  return {
    operations: [
      { op: 'hashSet', key, field: 'model', value: 'mlp@1' },
      { op: 'hashSet', key, field: 'rankingColumns', value: RANKING_TEXT },
      { op: 'expire', key, ttlMs: DAY_MS },
    ],
  };
}

/** Writes to every session key, to one user, and to an item's co-visitation set and its landmark. */
function sessionEvent(sessionId: string, userId: string, itemId: string, tMs: number): PlannedWrite {
  const session = keys.session(sessionId);
  return {
    dedupKey: keys.dedup(sessionId, `${sessionId}-${tMs}`),
    dedupTtlMs: DAY_MS,
    operations: [
      { op: 'listPush', key: session.recent, value: `tap|${tMs}|0|${itemId}`, maxLength: 50 },
      { op: 'zsetAdd', key: session.interacted, member: itemId, score: tMs, mode: 'max', maxMembers: 100 },
      { op: 'hashIncrement', key: session.meta, field: 'events', amount: 1 },
      { op: 'hashDecayAdd', key: session.affinity, field: 'category:drama@3600000', weight: 1, tMs },
      { op: 'zsetAdd', key: keys.userInteracted(userId), member: itemId, score: tMs, mode: 'max', maxMembers: 100 },
      { op: 'hashIncrement', key: keys.userAffinity(userId), field: 'taps', amount: 1 },
      { op: 'zsetDecayAdd', key: keys.itemCovisit(itemId), member: 'other', weight: 1, tMs, halfLifeMs: 3_600_000, maxMembers: 50 },
    ],
  };
}

function cappedStore(maxBytes: number, evictions: MemoryEviction[] = []): MemoryFeatureStore {
  return new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0, maxBytes, onEviction: (eviction) => evictions.push(eviction) });
}

/** Returns the estimated bytes of what `writes` store in an empty store. */
async function estimatedBytesOf(writes: PlannedWrite[]): Promise<number> {
  const store = cappedStore(Number.MAX_SAFE_INTEGER);
  await store.apply(writes);
  return store.estimatedBytes as number;
}

async function hashOf(store: MemoryFeatureStore, key: string): Promise<Record<string, string>> {
  const [result] = await store.read([{ kind: 'hash', key }]);
  return result?.kind === 'hash' ? result.value : {};
}

describe('MemoryFeatureStore maxBytes', () => {
  it('stays under the limit after many writes', async () => {
    const maxBytes = 400_000;
    const store = cappedStore(maxBytes);
    for (let index = 0; index < 1_000; index++) {
      await store.apply([feedRecord(`s${index % 50}`, `f${index}`), sessionEvent(`s${index % 50}`, `u${index % 50}`, `i${index % 20}`, NOW_MS + index)]);
      expect(store.estimatedBytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(await hashOf(store, 's:{s49}:feed:f999')).toHaveProperty('rankingColumns', RANKING_TEXT);
    expect(store.size).toBeLessThan(400);
  });

  it('evicts nothing while under the limit', async () => {
    const evictions: MemoryEviction[] = [];
    const store = cappedStore(10_000_000, evictions);
    for (let index = 0; index < 100; index++) {
      await store.apply([feedRecord('s1', `f${index}`)]);
    }
    expect(evictions).toEqual([]);
    expect(store.estimatedBytes).toBeGreaterThan(100 * RANKING_TEXT.length);
    expect(await hashOf(store, 's:{s1}:feed:f0')).toHaveProperty('model', 'mlp@1');
  });

  it('evicts the oldest-written feed record first', async () => {
    const evictions: MemoryEviction[] = [];
    // Room for three records, not four.
    const recordBytes = await estimatedBytesOf([feedRecord('s1', 'old')]);
    const store = cappedStore(Math.round(recordBytes * 3.5), evictions);
    await store.apply([feedRecord('s1', 'old'), feedRecord('s1', 'middle')]);
    await store.apply([feedRecord('s1', 'newer')]);
    // Another page of the oldest feed is a write, so it becomes the newest.
    await store.apply([{ operations: [{ op: 'hashSet', key: 's:{s1}:feed:old', field: 'page:20', value: '[]' }] }]);
    await store.apply([feedRecord('s1', 'newest')]);
    expect(await hashOf(store, 's:{s1}:feed:middle')).toEqual({});
    expect(await hashOf(store, 's:{s1}:feed:old')).toHaveProperty('page:20');
    expect(await hashOf(store, 's:{s1}:feed:newest')).toHaveProperty('model');
    expect(evictions.at(-1)?.evictedKeys).toBe(1);
  });

  it('evicts feed records before session state', async () => {
    const store = cappedStore(30_000);
    await store.apply([sessionEvent('idle', 'u1', 'i1', NOW_MS)]);
    for (let index = 0; index < 20; index++) {
      await store.apply([feedRecord('active', `f${index}`)]);
    }
    expect(await hashOf(store, keys.sessionMeta('idle'))).toEqual({ events: '1' });
    expect(await hashOf(store, 's:{active}:feed:f0')).toEqual({});
  });

  it('evicts the idle session whole, before the active one and before users', async () => {
    const store = cappedStore(9_000);
    await store.apply([sessionEvent('idle', 'u1', 'i1', NOW_MS)]);
    for (let index = 0; index < 30; index++) {
      await store.apply([sessionEvent('active', 'u1', 'i1', NOW_MS + 1_000 + index)]);
    }
    const [recent, interacted, seenResult] = await store.read([
      { kind: 'list', key: keys.sessionRecent('idle'), limit: 50 },
      { kind: 'zsetMembers', key: keys.sessionInteracted('idle'), limit: 10 },
      { kind: 'list', key: keys.sessionRecent('active'), limit: 50 },
    ]);
    expect(recent).toEqual({ kind: 'list', value: [] });
    expect(interacted).toEqual({ kind: 'zsetMembers', value: [] });
    expect(await hashOf(store, keys.sessionMeta('idle'))).toEqual({});
    expect(await hashOf(store, keys.sessionAffinity('idle'))).toEqual({});
    expect(seenResult?.kind === 'list' ? seenResult.value.length : 0).toBe(30);
    expect(await hashOf(store, keys.userAffinity('u1'))).toEqual({ taps: '31' });
  });

  it('keeps item sets and their landmark keys', async () => {
    const evictions: MemoryEviction[] = [];
    const store = cappedStore(1_000, evictions);
    await store.apply([sessionEvent('s1', 'u1', 'i1', NOW_MS)]);
    const [top] = await store.read([{ kind: 'zsetTop', key: keys.itemCovisit('i1'), limit: 10 }]);
    expect(top).toEqual({ kind: 'zsetTop', value: [{ member: 'other', score: 1 }], landmarkMs: NOW_MS });
    expect(await hashOf(store, keys.sessionMeta('s1'))).toEqual({});
    expect(evictions.at(-1)?.estimatedBytes).toBeGreaterThan(1_000);
  });

  it('counts expired keys as removed, not evicted', async () => {
    let clockMs = NOW_MS;
    const evictions: MemoryEviction[] = [];
    const store = new MemoryFeatureStore({ now: () => clockMs, sweepIntervalMs: 0, maxBytes: 12_000, onEviction: (eviction) => evictions.push(eviction) });
    await store.apply([feedRecord('s1', 'f1')]);
    clockMs += 2 * DAY_MS;
    await store.apply([feedRecord('s1', 'f2'), feedRecord('s1', 'f3')]);
    expect(evictions).toEqual([{ evictedKeys: 0, estimatedBytes: expect.any(Number), maxBytes: 12_000 }]);
  });

  it('forgets the size of keys removed on read', async () => {
    let clockMs = NOW_MS;
    const store = new MemoryFeatureStore({ now: () => clockMs, sweepIntervalMs: 0, maxBytes: 1_000_000 });
    await store.apply([feedRecord('s1', 'f1')]);
    expect(store.estimatedBytes).toBeGreaterThan(4_000);
    clockMs += 2 * DAY_MS;
    expect(await hashOf(store, 's:{s1}:feed:f1')).toEqual({});
    expect(store.estimatedBytes).toBe(0);
  });

  it('rejects a limit that is not positive', () => {
    expect(() => new MemoryFeatureStore({ maxBytes: 0 })).toThrow('maxBytes is 0; set a positive number of bytes');
  });
});
