import {
  covisitListRequests,
  covisitScoresOf,
  globalStatsRequest,
  ItemSnapshotBuilder,
  keys,
  priorsOf,
  seenFlagsAmong,
  sessionSeenSetRequest,
  type ItemSnapshot,
  type ReadRequest,
  type ReadResult,
  type SessionSnapshot,
} from '@nexttap/features';
import type { FeatureStore } from '@nexttap/store';
import type { CachedItem, ItemCache } from './item-cache';
import type { StoreBudget } from './store-budget';
import { readWithinBudget } from './store-reads';

/** The reads of items through an `ItemCache`, and the step that turns their results into snapshots. */
export interface CachedItemRead {
  /** Reads of the items the session saw and of the snapshots, catalog records and global counters the cache lacks. */
  requests: ReadRequest[];
  /**
   * Builds the snapshots of the items, in order, from the results of `requests` and the session's
   * co-visitation lists (`covisitListRequests`), and caches what was read.
   */
  complete(results: readonly ReadResult[], covisitLists: readonly ReadResult[]): ItemSnapshot[];
}

/**
 * Plans the read of items' features through `cache`: entries younger than the cache's max age
 * are used as they are, the rest are read and cached. What the session saw is always read. The
 * requests do not depend on the session's state, so a caller that knows the items before it reads
 * the session sends both in one round trip.
 */
export function planCachedItemRead(cache: ItemCache, itemIds: readonly string[], sessionId: string, nowMs: number): CachedItemRead {
  const entries = new Array<CachedItem | undefined>(itemIds.length);
  const snapshotKeys: string[] = [];
  const catalogKeys: string[] = [];
  for (let index = 0; index < itemIds.length; index++) {
    const itemId = itemIds[index] as string;
    const entry = cache.fresh(itemId, nowMs);
    entries[index] = entry;
    if (entry === undefined) {
      const itemKeys = keys.item(itemId);
      snapshotKeys.push(itemKeys.snapshot);
      catalogKeys.push(itemKeys.catalog);
    }
  }
  const missingCount = snapshotKeys.length;
  const readPlannedAt = cache.changeCount;
  const cachedGlobal = cache.freshGlobal(nowMs);
  const requests: ReadRequest[] = [sessionSeenSetRequest(sessionId)];
  if (missingCount > 0) {
    requests.push({ kind: 'snapshots', keys: snapshotKeys }, { kind: 'strings', keys: catalogKeys });
  }
  if (cachedGlobal === undefined) {
    requests.push(globalStatsRequest());
  }
  const complete = (results: readonly ReadResult[], covisitLists: readonly ReadResult[]): ItemSnapshot[] => {
    if (missingCount > 0) {
      storeMissing(cache, itemIds, entries, results[1], results[2], nowMs, readPlannedAt);
    }
    const global = cachedGlobal ?? results[missingCount > 0 ? 3 : 1];
    if (cachedGlobal === undefined && global !== undefined) {
      cache.storeGlobal(global, nowMs);
    }
    const seen = seenFlagsAmong(results[0], itemIds);
    return buildItemSnapshots(itemIds, entries as CachedItem[], nowMs, global, covisitScoresOf(itemIds, covisitLists, nowMs), seen);
  };
  return { requests, complete };
}

/**
 * Reads the features of items as `readItems` does, in one round trip, through `cache`.
 * `covisitLists` are the session's co-visitation lists when the caller already read them
 * (`covisitListRequests`); without them they are read in the same round trip.
 */
export async function readItemsCached(
  store: FeatureStore,
  cache: ItemCache,
  itemIds: readonly string[],
  nowMs: number,
  budget: StoreBudget,
  session: SessionSnapshot,
  covisitLists?: readonly ReadResult[],
): Promise<ItemSnapshot[]> {
  if (itemIds.length === 0) {
    return [];
  }
  const plan = planCachedItemRead(cache, itemIds, session.sessionId, nowMs);
  const listRequests = covisitLists === undefined ? covisitListRequests(session) : [];
  const results = await readWithinBudget(store, [...plan.requests, ...listRequests], budget);
  return plan.complete(results.slice(0, plan.requests.length), covisitLists ?? results.slice(plan.requests.length));
}

/**
 * Caches the items read for the unset slots of `entries`, and fills those slots. `readPlannedAt`
 * is the cache's change count when the read was planned.
 */
function storeMissing(
  cache: ItemCache,
  itemIds: readonly string[],
  entries: Array<CachedItem | undefined>,
  snapshots: ReadResult | undefined,
  catalogs: ReadResult | undefined,
  readAtMs: number,
  readPlannedAt: number,
): void {
  const packedValues = snapshots?.kind === 'snapshots' ? snapshots.value : [];
  const catalogTexts = catalogs?.kind === 'strings' ? catalogs.value : [];
  let read = 0;
  for (let index = 0; index < itemIds.length; index++) {
    if (entries[index] === undefined) {
      entries[index] = cache.store(itemIds[index] as string, packedValues[read] ?? null, catalogTexts[read], readAtMs, readPlannedAt);
      read += 1;
    }
  }
}

/**
 * Builds the snapshots of `itemIds` at `nowMs` from their stored values, given in the same order,
 * with the session's co-visitation scores and seen flags and the priors from `global`.
 */
export function buildItemSnapshots(
  itemIds: readonly string[],
  stored: ReadonlyArray<Pick<CachedItem, 'packed' | 'catalog' | 'facts'>>,
  nowMs: number,
  global: ReadResult | undefined,
  covisitScores: Float64Array,
  seen: readonly boolean[],
): ItemSnapshot[] {
  const builder = new ItemSnapshotBuilder(itemIds.length, nowMs, priorsOf(global, nowMs));
  const snapshots = new Array<ItemSnapshot>(itemIds.length);
  for (let index = 0; index < itemIds.length; index++) {
    const entry = stored[index] as Pick<CachedItem, 'packed' | 'catalog' | 'facts'>;
    snapshots[index] = builder.build(itemIds[index] as string, entry.packed, entry.catalog, covisitScores[index] as number, seen[index] as boolean, entry.facts);
  }
  return snapshots;
}
