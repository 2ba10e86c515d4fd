import type { FeatureStore } from './feature-store';
import {
  itemReadRequests,
  parseItemReads,
  parseSessionReads,
  sessionReadRequests,
  type ItemSnapshot,
  type SessionSnapshot,
  type UserSnapshot,
} from './snapshots';

/** Reads a session and its user in one round trip, decayed to `nowMs`. */
export async function readSessionSnapshot(
  store: FeatureStore,
  sessionId: string,
  userId: string | undefined,
  nowMs: number,
): Promise<{ session: SessionSnapshot; user: UserSnapshot | undefined }> {
  return parseSessionReads(sessionId, userId, await store.read(sessionReadRequests(sessionId, userId)), nowMs);
}

/**
 * Reads items' features in one round trip, decayed to `nowMs`. With a session, the items also get
 * the session's co-visitation scores and impressions; without one those stay at their defaults.
 */
export async function readItemSnapshots(store: FeatureStore, itemIds: readonly string[], nowMs: number, session?: SessionSnapshot): Promise<ItemSnapshot[]> {
  if (itemIds.length === 0) {
    return [];
  }
  return parseItemReads(itemIds, await store.read(itemReadRequests(itemIds, session)), nowMs, session);
}
