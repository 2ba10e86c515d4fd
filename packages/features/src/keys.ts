/**
 * Key layout. Braces mark Redis Cluster hash tags: every key of one session, user or item shares a
 * slot, so a session's reads and one event's session writes stay in one slot. Candidate pools share
 * the `{pool}` tag so a pool and its landmark key are read together.
 */
/** Item keys that every feed request builds for each candidate, cached per item id. */
interface ItemReadKeys {
  snapshot: string;
  catalog: string;
}

/** Item ids whose read keys are cached; past it the cache starts over, as the parsed catalog cache does. */
const READ_KEY_CACHE_MAX = 100_000;
const readKeyCache = new Map<string, ItemReadKeys>();

/**
 * Returns the cached read keys of an item. A store looks each key up by its hash, and V8 keeps a
 * string's hash on the string, so a reused key is not hashed again as a new one would be.
 */
function readKeysOf(itemId: string): ItemReadKeys {
  let cached = readKeyCache.get(itemId);
  if (cached === undefined) {
    if (readKeyCache.size >= READ_KEY_CACHE_MAX) {
      readKeyCache.clear();
    }
    cached = { snapshot: `i:{${itemId}}:snapshot`, catalog: `i:{${itemId}}:catalog` };
    readKeyCache.set(itemId, cached);
  }
  return cached;
}

export const keys = {
  /** List of `type|ts|dwellMs|itemId`, newest first. */
  sessionRecent: (sessionId: string) => `s:{${sessionId}}:recent`,
  /** Decayed affinity hash: `category:<id>@<halfLife>` and `creator:<id>@<halfLife>` fields. */
  sessionAffinity: (sessionId: string) => `s:{${sessionId}}:affinity`,
  /** Items with any engagement other than an impression, scored by the latest time. */
  sessionInteracted: (sessionId: string) => `s:{${sessionId}}:interacted`,
  /** Items shown (impressions), scored by the latest time. */
  sessionSeen: (sessionId: string) => `s:{${sessionId}}:seen`,
  /** Counters: `events`, `lastTs`, `lastPositiveTs`. */
  sessionMeta: (sessionId: string) => `s:{${sessionId}}:meta`,
  dedup: (sessionId: string, eventId: string) => `s:{${sessionId}}:event:${eventId}`,
  userAffinity: (userId: string) => `u:{${userId}}:affinity`,
  userInteracted: (userId: string) => `u:{${userId}}:interacted`,
  itemStats: (itemId: string) => `i:{${itemId}}:stats`,
  /** Packed float64 copy of the stats hash: the landmark, then `ITEM_STAT_FIELDS` in order. */
  itemSnapshot: (itemId: string) => readKeysOf(itemId).snapshot,
  itemCatalog: (itemId: string) => readKeysOf(itemId).catalog,
  /** Decayed sorted set of the items engaged with after this one in the same session. */
  itemCovisit: (itemId: string) => `i:{${itemId}}:covisit`,
  poolPopular: () => '{pool}:popular',
  poolTrending: () => '{pool}:trending',
  poolFresh: () => '{pool}:fresh',
  /** Live items, scored by publish time. */
  poolLive: () => '{pool}:live',
  poolCategory: (category: string) => `{pool}:category:${category}`,
  poolCategoryNames: () => '{pool}:category-names',
  /** Decayed counts over all items, the priors of the smoothed rates. */
  globalStats: () => '{pool}:global',
} as const;
