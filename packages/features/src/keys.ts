/**
 * Key layout. Braces mark Redis Cluster hash tags: every key of one session, user or item shares a
 * slot, so a session's reads and one event's session writes stay in one slot. Candidate pools share
 * the `{pool}` tag so a pool and its landmark key are read together.
 */
/** Keys of one item, cached per item id: feed reads build them for every candidate, and writes for every event. */
interface ItemKeys {
  stats: string;
  snapshot: string;
  catalog: string;
  covisit: string;
}

/** Item ids whose keys are cached; past it the cache starts over, as the parsed catalog cache does. */
const ITEM_KEY_CACHE_MAX = 100_000;
const itemKeyCache = new Map<string, ItemKeys>();

/**
 * Returns the cached keys of an item. A store looks each key up by its hash, and V8 keeps a
 * string's hash on the string, so a reused key is not hashed again as a new one would be.
 */
function itemKeysOf(itemId: string): ItemKeys {
  let cached = itemKeyCache.get(itemId);
  if (cached === undefined) {
    if (itemKeyCache.size >= ITEM_KEY_CACHE_MAX) {
      itemKeyCache.clear();
    }
    cached = { stats: `i:{${itemId}}:stats`, snapshot: `i:{${itemId}}:snapshot`, catalog: `i:{${itemId}}:catalog`, covisit: `i:{${itemId}}:covisit` };
    itemKeyCache.set(itemId, cached);
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
  itemStats: (itemId: string) => itemKeysOf(itemId).stats,
  /** Packed float64 copy of the stats hash: the landmark, then `ITEM_STAT_FIELDS` in order. */
  itemSnapshot: (itemId: string) => itemKeysOf(itemId).snapshot,
  itemCatalog: (itemId: string) => itemKeysOf(itemId).catalog,
  /** Decayed sorted set of the items engaged with after this one in the same session. */
  itemCovisit: (itemId: string) => itemKeysOf(itemId).covisit,
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
