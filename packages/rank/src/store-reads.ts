import {
  covisitListRequests,
  covisitScoresOf,
  globalStatsRequest,
  ItemSnapshotBuilder,
  itemReadRequests,
  keys,
  priorsOf,
  seenFlagsOf,
  sessionSeenRequest,
  parseItemReads,
  parseSessionReads,
  sessionReadRequests,
  type ItemSnapshot,
  type ReadRequest,
  type ReadResult,
  type SessionSnapshot,
  type UserSnapshot,
} from '@nexttap/features';
import type { FeatureStore } from '@nexttap/store';
import type { CachedItem, ItemCache } from './item-cache';
import { StoreBudget, StoreBudgetExceededError, UNLIMITED_STORE_BUDGET } from './store-budget';

/** A feature store read failed; `cause` has the store's error. */
export class StoreReadError extends Error {
  override readonly name = 'StoreReadError';

  constructor(cause: unknown) {
    super(`feature store read failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Reads within the budget. Rejects with StoreBudgetExceededError when the budget runs out and with
 * StoreReadError when the store fails, so that callers can tell a store problem from a bug.
 */
export async function readWithinBudget(store: FeatureStore, requests: readonly ReadRequest[], budget: StoreBudget): Promise<ReadResult[]> {
  try {
    return await budget.race(store.read(requests));
  } catch (error) {
    throw error instanceof StoreBudgetExceededError ? error : new StoreReadError(error);
  }
}

/** Reads a session and its user in one round trip. */
export async function readSession(
  store: FeatureStore,
  sessionId: string,
  userId: string | undefined,
  nowMs: number,
  budget: StoreBudget = UNLIMITED_STORE_BUDGET,
): Promise<{ session: SessionSnapshot; user: UserSnapshot | undefined }> {
  const { session, user } = await readSessionWith(store, sessionId, userId, nowMs, [], budget);
  return { session, user };
}

/**
 * Reads a session and its user plus `extra` requests in the same round trip. The results of the
 * extra requests come back in `extra`, in order.
 */
export async function readSessionWith(
  store: FeatureStore,
  sessionId: string,
  userId: string | undefined,
  nowMs: number,
  extra: readonly ReadRequest[],
  budget: StoreBudget,
): Promise<{ session: SessionSnapshot; user: UserSnapshot | undefined; extra: ReadResult[] }> {
  const requests = sessionReadRequests(sessionId, userId);
  const results = await readWithinBudget(store, [...requests, ...extra], budget);
  const parsed = parseSessionReads(sessionId, userId, results.slice(0, requests.length), nowMs);
  return { ...parsed, extra: results.slice(requests.length) };
}

/**
 * Reads the features of items in one round trip. With a session, the items also get the session's
 * co-visitation scores and whether the session saw them.
 */
export async function readItems(
  store: FeatureStore,
  itemIds: readonly string[],
  nowMs: number,
  budget: StoreBudget = UNLIMITED_STORE_BUDGET,
  session?: SessionSnapshot,
): Promise<ItemSnapshot[]> {
  if (itemIds.length === 0) {
    return [];
  }
  return parseItemReads(itemIds, await readWithinBudget(store, itemReadRequests(itemIds, session), budget), nowMs, session);
}

/**
 * Reads the features of items as `readItems` does, in one round trip, but takes items' snapshots,
 * catalog records and the global counters from `cache` while they are fresh, and reads and caches
 * only the others. What the session saw is read on every call. `covisitLists` are the session's
 * co-visitation lists when the caller already read them (`covisitListRequests`); without them they
 * are read in the same round trip.
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
  const entries: Array<CachedItem | undefined> = itemIds.map((itemId) => cache.fresh(itemId, nowMs));
  const missing = itemIds.filter((_, index) => entries[index] === undefined);
  const cachedGlobal = cache.freshGlobal(nowMs);
  const requests: ReadRequest[] = [sessionSeenRequest(session.sessionId, itemIds)];
  if (missing.length > 0) {
    requests.push({ kind: 'snapshots', keys: missing.map((itemId) => keys.itemSnapshot(itemId)) }, { kind: 'strings', keys: missing.map((itemId) => keys.itemCatalog(itemId)) });
  }
  if (cachedGlobal === undefined) {
    requests.push(globalStatsRequest());
  }
  const covisitStart = requests.length;
  if (covisitLists === undefined) {
    requests.push(...covisitListRequests(session));
  }
  const results = await readWithinBudget(store, requests, budget);

  if (missing.length > 0) {
    storeMissing(cache, itemIds, entries, results[1], results[2], nowMs);
  }
  const global = cachedGlobal ?? (results[missing.length > 0 ? 3 : 1] as ReadResult);
  if (cachedGlobal === undefined) {
    cache.storeGlobal(global, nowMs);
  }
  const seen = seenFlagsOf(results[0], itemIds.length);
  const covisitScores = covisitScoresOf(itemIds, covisitLists ?? results.slice(covisitStart), nowMs);
  const builder = new ItemSnapshotBuilder(itemIds.length, nowMs, priorsOf(global, nowMs));
  return itemIds.map((itemId, index) => {
    const entry = entries[index] as CachedItem;
    return builder.build(itemId, entry.packed, entry.catalog, covisitScores[index] as number, seen[index] as boolean);
  });
}

/** Caches the items read for the unset slots of `entries`, and fills those slots. */
function storeMissing(
  cache: ItemCache,
  itemIds: readonly string[],
  entries: Array<CachedItem | undefined>,
  snapshots: ReadResult | undefined,
  catalogs: ReadResult | undefined,
  readAtMs: number,
): void {
  const packedValues = snapshots?.kind === 'snapshots' ? snapshots.value : [];
  const catalogTexts = catalogs?.kind === 'strings' ? catalogs.value : [];
  let read = 0;
  itemIds.forEach((itemId, index) => {
    if (entries[index] === undefined) {
      entries[index] = cache.store(itemId, packedValues[read] ?? null, catalogTexts[read], readAtMs);
      read += 1;
    }
  });
}
