import type { ItemSnapshot, ReadResult, SessionSnapshot, UserSnapshot } from '@nexttap/features';
import {
  applyOrderingRules,
  covisitReadRequests,
  covisitSeeds,
  DEFAULT_CANDIDATE_LIMITS,
  DEFAULT_FEED_RULES,
  DEFAULT_RANKING_DEPTH,
  filterCandidates,
  generateCandidates,
  keepCataloged,
  mergeNeighbours,
  NO_RULE_EFFECTS,
  requestCandidates,
  sortByScore,
  type Candidate,
  type PoolCache,
  type ScoredItem,
} from '@nexttap/rank';
import type { FeatureStore } from '@nexttap/store';
import { storeItemReader, type ItemReader } from './item-reads';
import { rankByScore } from './metrics';
import type { RankerResult } from './point-log';
import { createRandom, hashText } from './random';
import type { Ranker } from './rankers';

/** Candidate protocol: the generated candidates (`full`), or the target among sampled negatives (`sampled`). */
export type Protocol = 'full' | 'sampled';

/** One ranking request of the replay: the state just before a target event or a logged feed. */
export interface PointRequest {
  /** Identifies the point in seeds: `sessionId` TAB `eventId`. */
  key: string;
  session: SessionSnapshot;
  user: UserSnapshot | undefined;
  nowMs: number;
  /** The item the person engaged with next, when the point has a target. */
  targetItemId: string | undefined;
  /** For the sampled protocol: the target's negatives, drawn by the caller. */
  negatives?: readonly string[];
  /** Items kept of each ranker's ranking in `RankerResult.top`. */
  depth: number;
}

/** Every ranker's ranking of one point's candidates. */
export interface PointRanking {
  candidateCount: number;
  targetRetrieved: boolean;
  results: RankerResult[];
  /** Time to read the neighbour lists, generate candidates and read their features, in ms. */
  candidateLatencyMs: number;
}

/** Tells whether the feed rules drop the target because the session or user already engaged with it, so the point cannot be evaluated. */
export function isAlreadyEngaged(itemId: string, session: SessionSnapshot, user: UserSnapshot | undefined): boolean {
  return DEFAULT_FEED_RULES.dropInteracted && (session.interacted.has(itemId) || (user?.interacted.has(itemId) ?? false));
}

/**
 * Ranks the candidates of one point with every ranker, through the ranker service's own steps:
 * co-visitation neighbours, `generateCandidates`, `filterCandidates` and `readItems` once, then per
 * ranker its scores and the order of `sortByScore`. Every ranker scores the same candidates and
 * keeps the first `DEFAULT_RANKING_DEPTH` items, as `rankFeed` does.
 *
 * Under the full protocol a model's ranking then goes through `applyOrderingRules` (live boost,
 * diversity, the exploration slot) with a random stream seeded per point, so it is the feed the
 * ranker service would serve. A test checks that it equals `rankFeed`'s ranking. Baselines are
 * ordered by their score alone, as baselines usually are. The sampled protocol orders every ranker
 * by score alone, as published sampled metrics are computed.
 */
export class PointEvaluator {
  private readonly readItems: ItemReader;

  /** `readItems` reads the candidates' features; by default from `store` at every point. */
  constructor(
    private readonly store: FeatureStore,
    private readonly pools: PoolCache,
    private readonly rankers: readonly Ranker[],
    private readonly settings: { protocol: Protocol; seed: number; readItems?: ItemReader },
  ) {
    this.readItems = settings.readItems ?? storeItemReader(store);
  }

  async rank(request: PointRequest): Promise<PointRanking> {
    const startedMs = performance.now();
    const { candidates: proposed, covisitLists } = await this.candidates(request);
    const proposedSnapshots = await this.readItems(
      proposed.map((candidate) => candidate.itemId),
      request.nowMs,
      request.session,
      covisitLists,
    );
    // Generated candidates without a catalog record are dropped, as `rankFeed` drops them.
    const { candidates, snapshots: items } = this.settings.protocol === 'full' ? keepCataloged(proposed, proposedSnapshots) : { candidates: proposed, snapshots: proposedSnapshots };
    const candidateLatencyMs = performance.now() - startedMs;

    const itemIds = candidates.map((candidate) => candidate.itemId);
    const targetIndex = request.targetItemId === undefined ? -1 : itemIds.indexOf(request.targetItemId);
    const results: RankerResult[] = [];
    for (const ranker of this.rankers) {
      const rankerStartedMs = performance.now();
      const random = createRandom(hashText(`${ranker.description.name}\t${request.key}`, this.settings.seed));
      const { scores, tieBreak } = await ranker.score({ session: request.session, user: request.user, items, nowMs: request.nowMs, random });
      const ranked =
        this.settings.protocol === 'full' && ranker.description.kind === 'model'
          ? this.orderWithRules(candidates, items, scores, createRandom(hashText(request.key, this.settings.seed)), request)
          : orderByScore(itemIds, scores, tieBreak, targetIndex, request.depth);
      results.push({ ...ranked, latencyMs: performance.now() - rankerStartedMs });
    }
    return { candidateCount: candidates.length, targetRetrieved: targetIndex >= 0, results, candidateLatencyMs };
  }

  /**
   * Returns the point's candidates and, under the full protocol, the session's co-visitation
   * lists read for them, which also give the items' co-visitation scores, as in `rankFeed`.
   */
  private async candidates(request: PointRequest): Promise<{ candidates: Candidate[]; covisitLists?: ReadResult[] }> {
    const { session, user } = request;
    if (this.settings.protocol === 'sampled') {
      const itemIds = request.targetItemId === undefined ? [...(request.negatives ?? [])] : [request.targetItemId, ...(request.negatives ?? [])];
      return { candidates: filterCandidates(requestCandidates(itemIds), { session, user, exclude: new Set(), served: new Set(), generated: false }, DEFAULT_FEED_RULES) };
    }
    const seeds = covisitSeeds(session);
    const covisitLists = seeds.length === 0 ? [] : await this.store.read(covisitReadRequests(seeds));
    const generated = generateCandidates(this.pools.current, session, user, DEFAULT_CANDIDATE_LIMITS, mergeNeighbours(seeds, covisitLists));
    // NOTE: the served-history rule reads the feeds the ranker served to the session; a replay
    // serves none, so that rule never drops a candidate here.
    return {
      candidates: filterCandidates(generated, { session, user, exclude: new Set(), served: new Set(), generated: true }, DEFAULT_FEED_RULES),
      covisitLists,
    };
  }

  /**
   * Orders the candidates by score, then applies the feed rules as `rankFeed` does, and keeps the
   * ranking `rankFeed` stores (the first `DEFAULT_RANKING_DEPTH` items).
   */
  private orderWithRules(
    candidates: readonly Candidate[],
    items: readonly ItemSnapshot[],
    scores: ArrayLike<number>,
    random: () => number,
    request: PointRequest,
  ): Omit<RankerResult, 'latencyMs'> {
    const scored = candidates.map(
      (candidate, index): ScoredItem => ({
        itemId: candidate.itemId,
        score: scores[index] ?? 0,
        sources: candidate.sources,
        catalog: items[index]?.catalog,
        facts: items[index]?.facts,
        impressions: items[index]?.impressions ?? 0,
        taps: items[index]?.taps ?? 0,
        rules: NO_RULE_EFFECTS,
      }),
    );
    const ordered = applyOrderingRules(sortByScore(scored), DEFAULT_FEED_RULES, { nowMs: request.nowMs, depth: DEFAULT_RANKING_DEPTH, random });
    const ranking = ordered.slice(0, DEFAULT_RANKING_DEPTH).map((item) => item.itemId);
    const rank = request.targetItemId === undefined ? 0 : ranking.indexOf(request.targetItemId) + 1;
    return { rank, top: ranking.slice(0, request.depth) };
  }
}

/**
 * Orders by score alone, in `sortByScore`'s order (score descending, then item id), or with a
 * tie-break between score and id, without sorting every candidate: it counts the items ahead of the
 * target and selects the first `depth`. A target past `DEFAULT_RANKING_DEPTH` is not in the kept
 * ranking, so its rank is 0.
 */
function orderByScore(
  itemIds: readonly string[],
  scores: ArrayLike<number>,
  tieBreak: ArrayLike<number> | undefined,
  targetIndex: number,
  depth: number,
): Omit<RankerResult, 'latencyMs'> {
  const { rank, top } = rankByScore(scores, itemIds, targetIndex, Math.min(depth, DEFAULT_RANKING_DEPTH), tieBreak);
  return { rank: rank > DEFAULT_RANKING_DEPTH ? 0 : rank, top: top.map((index) => itemIds[index] as string) };
}
