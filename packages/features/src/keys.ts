import { ZSET_LANDMARK_SUFFIX } from './operations';

/**
 * Key layout. Braces mark Redis Cluster hash tags: every key of one session, user or item shares a
 * slot, so a session's reads and one event's session writes stay in one slot. Candidate pools share
 * the `{pool}` tag so a pool and its landmark key are read together.
 */
/** Keys of one item, cached per item id: feed reads build them for every candidate, and writes for every event. */
export interface ItemKeys {
  snapshot: string;
  catalog: string;
  covisit: string;
  covisitLandmark: string;
}

/**
 * Returns a function that builds the keys of an id once and then returns the cached object. A store
 * looks each key up by its hash, and V8 keeps a string's hash on the string, so a reused key is not
 * hashed again as a new one would be. Past `maxEntries` ids the cache starts over.
 */
function cachedKeys<Keys>(maxEntries: number, build: (id: string) => Keys): (id: string) => Keys {
  const cache = new Map<string, Keys>();
  return (id) => {
    let cached = cache.get(id);
    if (cached === undefined) {
      if (cache.size >= maxEntries) {
        cache.clear();
      }
      cached = build(id);
      cache.set(id, cached);
    }
    return cached;
  };
}

/** Item ids whose keys are cached. */
const ITEM_KEY_CACHE_MAX = 100_000;

const itemKeysOf = cachedKeys<ItemKeys>(ITEM_KEY_CACHE_MAX, (itemId) => ({
  snapshot: `i:{${itemId}}:snapshot`,
  catalog: `i:{${itemId}}:catalog`,
  // Not `:covisit`, the name of the lists with fractional scores, so that a ranker of either
  // version never reads scores in the other's units while both run during an upgrade.
  covisit: `i:{${itemId}}:neighbours`,
  covisitLandmark: `i:{${itemId}}:neighbours${ZSET_LANDMARK_SUFFIX}`,
}));

/** Keys of one session, cached per session id, because planning writes four of them for every event. */
export interface SessionKeys {
  recent: string;
  affinity: string;
  interacted: string;
  seen: string;
  meta: string;
}

/** Keys of one user, cached per user id. */
export interface UserKeys {
  affinity: string;
  interacted: string;
}

/**
 * Session and user ids whose keys are cached. Past it a cache starts over, so the bound is an
 * estimate of the sessions active at one time on one process, not a limit on sessions.
 */
const SESSION_KEY_CACHE_MAX = 10_000;

const sessionKeysOf = cachedKeys<SessionKeys>(SESSION_KEY_CACHE_MAX, (sessionId) => ({
  recent: `s:{${sessionId}}:recent`,
  affinity: `s:{${sessionId}}:affinity`,
  interacted: `s:{${sessionId}}:interacted`,
  seen: `s:{${sessionId}}:seen`,
  meta: `s:{${sessionId}}:meta`,
}));

const userKeysOf = cachedKeys<UserKeys>(SESSION_KEY_CACHE_MAX, (userId) => ({
  affinity: `u:{${userId}}:affinity`,
  interacted: `u:{${userId}}:interacted`,
}));

export const keys = {
  /** List of `type|ts|dwellMs|itemId`, newest first. */
  sessionRecent: (sessionId: string) => sessionKeysOf(sessionId).recent,
  /** Decayed affinity hash: `category:<id>@<halfLife>` and `creator:<id>@<halfLife>` fields. */
  sessionAffinity: (sessionId: string) => sessionKeysOf(sessionId).affinity,
  /** Items with any engagement other than an impression, scored by the latest time. */
  sessionInteracted: (sessionId: string) => sessionKeysOf(sessionId).interacted,
  /** Items shown (impressions), scored by the latest time. */
  sessionSeen: (sessionId: string) => sessionKeysOf(sessionId).seen,
  /** Counters: `events`, `lastTs`, `lastPositiveTs`. */
  sessionMeta: (sessionId: string) => sessionKeysOf(sessionId).meta,
  /** Every key of one session, found with one lookup, for a caller that needs several of them. */
  session: (sessionId: string): Readonly<SessionKeys> => sessionKeysOf(sessionId),
  dedup: (sessionId: string, eventId: string) => `s:{${sessionId}}:event:${eventId}`,
  userAffinity: (userId: string) => userKeysOf(userId).affinity,
  userInteracted: (userId: string) => userKeysOf(userId).interacted,
  /** Every key of one user, found with one lookup. */
  user: (userId: string): Readonly<UserKeys> => userKeysOf(userId),
  /** Every key of one item, for a caller that needs several of them. */
  item: (itemId: string): Readonly<ItemKeys> => itemKeysOf(itemId),
  /**
   * The item's decayed counters as one packed record of little-endian float64 values: the
   * landmark, then `ITEM_STAT_FIELDS` in order (see the `packedDecayAdd` operation).
   */
  itemSnapshot: (itemId: string) => itemKeysOf(itemId).snapshot,
  itemCatalog: (itemId: string) => itemKeysOf(itemId).catalog,
  /**
   * Decayed sorted set of the items engaged with after this one in the same session, with integer
   * scores in units of 1 / `COVISIT_SCORE_SCALE` engagements.
   */
  itemCovisit: (itemId: string) => itemKeysOf(itemId).covisit,
  /** Landmark time of `itemCovisit`, in epoch ms. */
  itemCovisitLandmark: (itemId: string) => itemKeysOf(itemId).covisitLandmark,
  poolPopular: () => '{pool}:popular',
  poolTrending: () => '{pool}:trending',
  poolFresh: () => '{pool}:fresh',
  /** Live items, scored by publish time. */
  poolLive: () => '{pool}:live',
  /** Items of one category, from catalog records, each with score 0; the pool cache ranks them by the popular pool. */
  poolCategory: (category: string) => `{pool}:category:${category}`,
  poolCategoryNames: () => '{pool}:category-names',
  /** Decayed counts over all items, the priors of the smoothed rates. */
  globalStats: () => '{pool}:global',
} as const;
