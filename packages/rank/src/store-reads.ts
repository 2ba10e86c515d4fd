import {
  covisitScoresOf,
  globalStatsRequest,
  ItemSnapshotBuilder,
  itemReadRequests,
  keys,
  parseCatalogText,
  parseItemReads,
  priorsOf,
  seenFlagsOf,
  sessionSeenRequest,
  parseSessionReads,
  sessionReadRequests,
  type ItemSnapshot,
  type ReadRequest,
  type ReadResult,
  type SessionSnapshot,
  type UserSnapshot,
} from '@nexttap/features';
import type { FeatureStore } from '@nexttap/store';
import { StoreBudget, StoreBudgetExceededError, UNLIMITED_STORE_BUDGET } from './store-budget';

/**
 * A feature store read failed; `cause` has the store's error. The message leaves the text of an
 * Error cause out, because the log serializer appends the message of every Error cause.
 */
export class StoreReadError extends Error {
  override readonly name = 'StoreReadError';

  constructor(cause: unknown) {
    super(cause instanceof Error ? 'feature store read failed' : `feature store read failed: ${String(cause)}`, { cause });
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
 * extra requests come back in `extra`, in order. With `userInteractedAmong`, the user's
 * `interacted` holds only those of these items the user engaged with.
 */
export async function readSessionWith(
  store: FeatureStore,
  sessionId: string,
  userId: string | undefined,
  nowMs: number,
  extra: readonly ReadRequest[],
  budget: StoreBudget,
  userInteractedAmong?: readonly string[],
): Promise<{ session: SessionSnapshot; user: UserSnapshot | undefined; extra: ReadResult[] }> {
  const requests = sessionReadRequests(sessionId, userId, userInteractedAmong);
  const results = await readWithinBudget(store, [...requests, ...extra], budget);
  const parsed = parseSessionReads(sessionId, userId, results.slice(0, requests.length), nowMs, userInteractedAmong);
  return { session: parsed.session, user: parsed.user, extra: results.slice(requests.length) };
}

/**
 * Reads the features of items in one round trip. With a session, the items also get the session's
 * co-visitation scores and whether the session saw them. `covisitLists` are the session's
 * co-visitation lists when the caller already read them (`covisitListRequests`, or
 * `covisitReadRequests` of `covisitSeeds`). The scores then come from those lists instead of one
 * lookup per item and list. They have the same values, because the store keeps at most
 * `covisitMaxNeighbours` members per set, so a list read whole contains every score.
 */
export async function readItems(
  store: FeatureStore,
  itemIds: readonly string[],
  nowMs: number,
  budget: StoreBudget = UNLIMITED_STORE_BUDGET,
  session?: SessionSnapshot,
  covisitLists?: readonly ReadResult[],
): Promise<ItemSnapshot[]> {
  if (itemIds.length === 0) {
    return [];
  }
  if (session === undefined || covisitLists === undefined) {
    return parseItemReads(itemIds, await readWithinBudget(store, itemReadRequests(itemIds, session), budget), nowMs, session);
  }
  // One pass builds both key lists, so each item's cached keys are looked up once.
  const snapshotKeys: string[] = new Array(itemIds.length);
  const catalogKeys: string[] = new Array(itemIds.length);
  for (let index = 0; index < itemIds.length; index++) {
    const itemKeys = keys.item(itemIds[index] as string);
    snapshotKeys[index] = itemKeys.snapshot;
    catalogKeys[index] = itemKeys.catalog;
  }
  const requests: ReadRequest[] = [
    { kind: 'snapshots', keys: snapshotKeys },
    { kind: 'strings', keys: catalogKeys },
    globalStatsRequest(),
    sessionSeenRequest(session.sessionId, itemIds),
  ];
  const [snapshots, catalogs, global, seen] = await readWithinBudget(store, requests, budget);
  const packedValues = snapshots?.kind === 'snapshots' ? snapshots.value : [];
  const catalogTexts = catalogs?.kind === 'strings' ? catalogs.value : [];
  const seenFlags = seenFlagsOf(seen, itemIds.length);
  const covisitScores = covisitScoresOf(itemIds, covisitLists, nowMs);
  const builder = new ItemSnapshotBuilder(itemIds.length, nowMs, priorsOf(global, nowMs));
  return itemIds.map((itemId, index) => {
    const catalogText = catalogTexts[index];
    const catalog = catalogText ? parseCatalogText(catalogText) : undefined;
    return builder.build(itemId, packedValues[index] ?? null, catalog, covisitScores[index] as number, seenFlags[index] as boolean);
  });
}
