import type { Interaction } from '@nexttap/events';
import { applyCatalogItems, applyInteractions, ITEM_STAT_FIELDS, type ItemSnapshot } from '@nexttap/features';
import { covisitReadRequests, covisitSeeds, readItems, readSession } from '@nexttap/rank';
import { MemoryFeatureStore } from '@nexttap/store';
import { describe, expect, it } from 'vitest';
import { CachedItemReads, runReplay } from '../src/index';
import { event, item, movieLensSlice, T0 } from './fixtures';

const DAY_MS = 86_400_000;
const ITEM_IDS = ['a', 'b', 'c', 'd'];

/** Copies the values a ranker reads from an item snapshot into plain data. */
function valuesOf(snapshot: ItemSnapshot): unknown {
  return {
    itemId: snapshot.itemId,
    catalog: snapshot.catalog,
    stats: ITEM_STAT_FIELDS.map((field) => snapshot.stats.get(field)),
    positiveLong: snapshot.positiveLong,
    impressions: snapshot.impressions,
    covisitScore: snapshot.covisitScore,
    seenInSession: snapshot.seenInSession,
    priors: snapshot.priors,
  };
}

/** Builds a memory store on a settable clock, with a catalog of four items and a session that engaged with two. */
async function storeWithSession(): Promise<{ store: MemoryFeatureStore; setClock: (tMs: number) => void; now: () => number }> {
  let clockMs = T0;
  const store = new MemoryFeatureStore({ now: () => clockMs, sweepIntervalMs: 0 });
  await applyCatalogItems(
    store,
    ITEM_IDS.map((itemId) => item(itemId, ['drama'])),
  );
  const events: Interaction[] = [event('impression', 's1', 'a', 0), event('play', 's1', 'a', 10, { dwellMs: 30_000 }), event('like', 's1', 'b', 20), event('tap', 's2', 'c', 30)];
  clockMs = (events.at(-1) as Interaction).ts;
  await applyInteractions(store, events);
  return { store, setClock: (tMs) => (clockMs = tMs), now: () => clockMs };
}

/** Reads the items of `ITEM_IDS` for session s1 both ways, at the store's clock. */
async function readBothWays(store: MemoryFeatureStore, reads: CachedItemReads, nowMs: number): Promise<{ cached: unknown[]; fresh: unknown[] }> {
  const { session } = await readSession(store, 's1', undefined, nowMs);
  const covisitLists = await store.read(covisitReadRequests(covisitSeeds(session)));
  const cached = await reads.read(ITEM_IDS, nowMs, session, covisitLists);
  const fresh = await readItems(store, ITEM_IDS, nowMs, undefined, session, covisitLists);
  return { cached: cached.map(valuesOf), fresh: fresh.map(valuesOf) };
}

describe('CachedItemReads', () => {
  it('reads as readItems does', async () => {
    const { store, now } = await storeWithSession();
    const reads = new CachedItemReads(store, now);
    const { cached, fresh } = await readBothWays(store, reads, now());
    expect(cached).toEqual(fresh);
    expect(reads.size).toBe(ITEM_IDS.length);
  });

  it('decays kept copies to the read instant', async () => {
    const { store, now, setClock } = await storeWithSession();
    const reads = new CachedItemReads(store, now);
    await readBothWays(store, reads, now());
    setClock(now() + 3 * 3_600_000);
    const { cached, fresh } = await readBothWays(store, reads, now());
    expect(cached).toEqual(fresh);
  });

  it('reads an invalidated item again', async () => {
    const { store, now, setClock } = await storeWithSession();
    const reads = new CachedItemReads(store, now);
    await readBothWays(store, reads, now());
    setClock(now() + 60_000);
    await applyInteractions(store, [event('like', 's3', 'd', 100)]);
    reads.invalidate('d');
    const { cached, fresh } = await readBothWays(store, reads, now());
    expect(cached).toEqual(fresh);
  });

  it('keeps a stale copy until invalidated', async () => {
    // The copies follow the invalidations alone: this is why the replay invalidates the item of
    // every event it applies.
    const { store, now, setClock } = await storeWithSession();
    const reads = new CachedItemReads(store, now);
    await readBothWays(store, reads, now());
    setClock(now() + 60_000);
    await applyInteractions(store, [event('like', 's3', 'd', 100)]);
    const { cached, fresh } = await readBothWays(store, reads, now());
    expect(cached).not.toEqual(fresh);
  });

  it('reads an item again once its snapshot expired', async () => {
    const { store, now, setClock } = await storeWithSession();
    const reads = new CachedItemReads(store, now);
    const before = await readBothWays(store, reads, now());
    // Item stats expire 90 days after their last write; no write happens in between.
    setClock(now() + 91 * DAY_MS);
    const after = await readBothWays(store, reads, now());
    expect(after.cached).toEqual(after.fresh);
    expect(after.cached).not.toEqual(before.cached);
  });
});

describe('replay with item copies', () => {
  it('gives the same report as reading every item at every point', async () => {
    const input = await movieLensSlice(1_500);
    const options = { input, baselines: ['popular', 'trending', 'covisit'] as const, bootstrapResamples: 20 };
    const withCopies = await runReplay(options);
    // A store from `createStore` turns the copies off, so every point reads every candidate.
    const withoutCopies = await runReplay({ ...options, createStore: (now: () => number) => new MemoryFeatureStore({ now, sweepIntervalMs: 0 }), storeKind: 'memory' });
    expect(withCopies.report.counts.evaluationPoints).toBeGreaterThan(100);
    expect(JSON.stringify(withCopies.report)).toBe(JSON.stringify(withoutCopies.report));
  });
});
