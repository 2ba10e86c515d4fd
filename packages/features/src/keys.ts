/**
 * Key layout. Braces mark Redis Cluster hash tags: every key of one session, user or item shares a
 * slot, so a session's reads and one event's session writes stay in one slot. Candidate pools share
 * the `{pool}` tag so a pool and its landmark key are read together.
 */
export const keys = {
  sessionRecent: (sessionId: string) => `s:{${sessionId}}:recent`,
  sessionCategories: (sessionId: string) => `s:{${sessionId}}:categories`,
  sessionInteracted: (sessionId: string) => `s:{${sessionId}}:interacted`,
  sessionMeta: (sessionId: string) => `s:{${sessionId}}:meta`,
  dedup: (sessionId: string, eventId: string) => `s:{${sessionId}}:event:${eventId}`,
  userCategories: (userId: string) => `u:{${userId}}:categories`,
  userInteracted: (userId: string) => `u:{${userId}}:interacted`,
  itemStats: (itemId: string) => `i:{${itemId}}:stats`,
  itemCatalog: (itemId: string) => `i:{${itemId}}:catalog`,
  poolPopular: () => '{pool}:popular',
  poolTrending: () => '{pool}:trending',
  poolFresh: () => '{pool}:fresh',
  poolCategory: (category: string) => `{pool}:category:${category}`,
  poolCategoryNames: () => '{pool}:category-names',
} as const;
