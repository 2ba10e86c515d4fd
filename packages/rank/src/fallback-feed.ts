import type { CandidateSource } from './candidates';
import { diversify, NO_RULE_EFFECTS, type FeedRuleSettings, type ScoredItem } from './feed-rules';
import type { PoolSnapshot } from './pool-cache';
import type { Degradation, FeedQuery, RankedFeed } from './rank-feed';

/**
 * Builds a feed without the store, from the in-process pool copy: trending, then popular, then
 * fresh items, or the request's candidates ordered by where they stand in those lists (unlisted
 * ones last, in the request's order). The score is 1 / (1 + rank), because no model features can be
 * read. Excluded items are dropped and diversity applies; the session's history is unknown, so
 * items it already engaged with may appear.
 */
export function fallbackFeed(query: FeedQuery, pools: PoolSnapshot, rules: FeedRuleSettings, degradation: Degradation): RankedFeed {
  const exclude = new Set(query.exclude ?? []);
  const ordered = (query.candidates === undefined ? poolOrder(pools) : requestOrder(query.candidates, pools)).filter(
    (candidate) => !exclude.has(candidate.itemId),
  );
  const scored = ordered.map(
    ({ itemId, sources }, rank): ScoredItem => ({
      itemId,
      score: 1 / (1 + rank),
      sources,
      catalog: pools.catalog.get(itemId),
      impressions: 0,
      taps: 0,
      rules: NO_RULE_EFFECTS,
    }),
  );
  const page = diversify(scored, rules, query.limit).slice(0, query.limit);
  return {
    items: page.map((item) => ({ itemId: item.itemId, score: item.score, sources: item.sources, known: item.catalog !== undefined, catalog: item.catalog, rules: item.rules })),
    ranking: [],
    nextOffset: undefined,
    candidateCount: ordered.length,
    degraded: degradation,
  };
}

function poolOrder(pools: PoolSnapshot): Array<{ itemId: string; sources: CandidateSource[] }> {
  const merged = new Map<string, CandidateSource[]>();
  const lists: Array<[CandidateSource, readonly string[]]> = [
    ['trending', pools.trending],
    ['popular', pools.popular],
    ['fresh', pools.fresh],
  ];
  for (const [source, itemIds] of lists) {
    for (const itemId of itemIds) {
      const sources = merged.get(itemId);
      if (sources === undefined) {
        merged.set(itemId, [source]);
      } else if (!sources.includes(source)) {
        sources.push(source);
      }
    }
  }
  return [...merged].map(([itemId, sources]) => ({ itemId, sources }));
}

function requestOrder(candidates: readonly string[], pools: PoolSnapshot): Array<{ itemId: string; sources: CandidateSource[] }> {
  const poolRank = new Map(poolOrder(pools).map(({ itemId }, rank) => [itemId, rank]));
  const unique = [...new Set(candidates)];
  const requestIndex = new Map(unique.map((itemId, index) => [itemId, index]));
  const rankOf = (itemId: string) => poolRank.get(itemId) ?? Number.POSITIVE_INFINITY;
  return unique
    .sort((a, b) => rankOf(a) - rankOf(b) || (requestIndex.get(a) ?? 0) - (requestIndex.get(b) ?? 0))
    .map((itemId) => ({ itemId, sources: ['request'] }));
}
