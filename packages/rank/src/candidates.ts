import type { SessionSnapshot, UserSnapshot } from '@nexttap/features';
import type { PoolSnapshot } from './pool-cache';

/** Why an item is a candidate. An item proposed by several sources lists each of them. */
export type CandidateSource = 'request' | 'popular' | 'trending' | 'fresh' | 'session-category' | 'user-category';

export interface Candidate {
  itemId: string;
  sources: CandidateSource[];
}

/** How many items each source proposes. Defaults are in `DEFAULT_CANDIDATE_LIMITS`. */
export interface CandidateLimits {
  popular: number;
  trending: number;
  fresh: number;
  /** Categories taken from the session and from the user, each. */
  topCategories: number;
  perCategory: number;
  /** Cap on the merged list, applied after de-duplication, in source order. */
  total: number;
}

export const DEFAULT_CANDIDATE_LIMITS: CandidateLimits = {
  popular: 100,
  trending: 50,
  fresh: 30,
  topCategories: 3,
  perCategory: 60,
  total: 400,
};

/**
 * Generates candidates from the pools: items of the session's and the user's favourite categories
 * first, then trending, popular and fresh items; merged without repeats and capped.
 */
export function generateCandidates(
  pools: PoolSnapshot,
  session: SessionSnapshot,
  user: UserSnapshot | undefined,
  limits: CandidateLimits = DEFAULT_CANDIDATE_LIMITS,
): Candidate[] {
  const merged = new Map<string, Candidate>();
  const add = (itemIds: readonly string[], count: number, source: CandidateSource) => {
    for (const itemId of itemIds.slice(0, count)) {
      const existing = merged.get(itemId);
      if (existing === undefined) {
        merged.set(itemId, { itemId, sources: [source] });
      } else if (!existing.sources.includes(source)) {
        existing.sources.push(source);
      }
    }
  };
  for (const category of topCategories(session.categoryAffinity, limits.topCategories)) {
    add(pools.byCategory.get(category) ?? [], limits.perCategory, 'session-category');
  }
  for (const category of topCategories(user?.categoryAffinity ?? new Map(), limits.topCategories)) {
    add(pools.byCategory.get(category) ?? [], limits.perCategory, 'user-category');
  }
  add(pools.trending, limits.trending, 'trending');
  add(pools.popular, limits.popular, 'popular');
  add(pools.fresh, limits.fresh, 'fresh');
  return [...merged.values()].slice(0, limits.total);
}

/** Returns the categories with the highest positive affinity, best first, ties by name. */
export function topCategories(affinity: ReadonlyMap<string, number>, count: number): string[] {
  return [...affinity]
    .filter(([, value]) => value > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, count)
    .map(([category]) => category);
}
