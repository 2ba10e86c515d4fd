import {
  buildFeatureMatrix,
  itemReadRequests,
  parseItemReads,
  parseSessionReads,
  sessionReadRequests,
  type ItemSnapshot,
  type SessionSnapshot,
  type UserSnapshot,
} from '@nexttap/features';
import type { RankingModel } from '@nexttap/model';
import type { FeatureStore } from '@nexttap/store';
import { DEFAULT_CANDIDATE_LIMITS, generateCandidates, type Candidate, type CandidateLimits } from './candidates';
import type { PoolSnapshot } from './pool-cache';

export interface FeedQuery {
  sessionId: string;
  userId?: string | undefined;
  /** Items to return at most. */
  limit: number;
  /** Items to re-rank; when absent, candidates come from the pools. */
  candidates?: readonly string[] | undefined;
  /** Items never to return. */
  exclude?: readonly string[] | undefined;
}

export interface RankedItem {
  itemId: string;
  score: number;
  sources: Candidate['sources'];
  /** False when the item has no catalog record; it was ranked with default features. */
  known: boolean;
}

export interface RankedFeed {
  items: RankedItem[];
  /** Candidates scored after the filters. */
  candidateCount: number;
  /** True when the model returned a non-finite score and the popularity heuristic replaced it. */
  heuristicFallback: boolean;
}

export interface RankContext {
  store: FeatureStore;
  model: RankingModel;
  pools: PoolSnapshot;
  nowMs: number;
  limits?: CandidateLimits;
}

/** Reads a session and its user in one round trip. */
export async function readSession(
  store: FeatureStore,
  sessionId: string,
  userId: string | undefined,
  nowMs: number,
): Promise<{ session: SessionSnapshot; user: UserSnapshot | undefined }> {
  const results = await store.read(sessionReadRequests(sessionId, userId));
  return parseSessionReads(sessionId, userId, results, nowMs);
}

/** Reads the features of items in one round trip. */
export async function readItems(store: FeatureStore, itemIds: readonly string[], nowMs: number): Promise<ItemSnapshot[]> {
  return parseItemReads(itemIds, await store.read(itemReadRequests(itemIds)), nowMs);
}

/**
 * Ranks a feed: session state, candidates, their features in one round trip, one model run, then
 * the items the session or user already engaged with and the excluded ones are dropped.
 */
export async function rankFeed(query: FeedQuery, context: RankContext): Promise<RankedFeed> {
  const { session, user } = await readSession(context.store, query.sessionId, query.userId, context.nowMs);
  const candidates =
    query.candidates === undefined
      ? generateCandidates(context.pools, session, user, context.limits ?? DEFAULT_CANDIDATE_LIMITS)
      : [...new Set(query.candidates)].map((itemId): Candidate => ({ itemId, sources: ['request'] }));
  const excluded = new Set(query.exclude ?? []);
  const eligible = candidates.filter(
    (candidate) => !excluded.has(candidate.itemId) && !session.interacted.has(candidate.itemId) && !(user?.interacted.has(candidate.itemId) ?? false),
  );
  const items = await readItems(context.store, eligible.map((candidate) => candidate.itemId), context.nowMs);
  const { scores, heuristicFallback } = await scoreItems(context.model, session, user, items, context.nowMs);
  const ranked = eligible.map((candidate, index) => ({
    itemId: candidate.itemId,
    score: scores[index] ?? 0,
    sources: candidate.sources,
    known: items[index]?.catalog !== undefined,
  }));
  ranked.sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
  return { items: ranked.slice(0, query.limit), candidateCount: eligible.length, heuristicFallback };
}

/**
 * Scores items with the model. A non-finite score is replaced by the heuristic score of that item,
 * so that no NaN or Infinity reaches a client.
 */
export async function scoreItems(
  model: RankingModel,
  session: SessionSnapshot,
  user: UserSnapshot | undefined,
  items: readonly ItemSnapshot[],
  nowMs: number,
): Promise<{ scores: Float64Array; heuristicFallback: boolean }> {
  const scores = new Float64Array(items.length);
  if (items.length === 0) {
    return { scores, heuristicFallback: false };
  }
  const matrix = buildFeatureMatrix(model.features, session, user, items, nowMs);
  const modelScores = await model.score(matrix);
  let heuristicFallback = false;
  items.forEach((item, index) => {
    const score = modelScores[index];
    if (score === undefined || !Number.isFinite(score)) {
      heuristicFallback = true;
      scores[index] = heuristicScore(item, session);
    } else {
      scores[index] = score;
    }
  });
  return { scores, heuristicFallback };
}

/**
 * Scores an item without a model: long-term popularity, lifted by the session's affinity to the
 * item's categories. Returns a value in [0, 1).
 */
export function heuristicScore(item: ItemSnapshot, session: SessionSnapshot): number {
  let affinity = 0;
  for (const category of item.catalog?.categories ?? []) {
    affinity += Math.max(0, session.categoryAffinity.get(category) ?? 0);
  }
  const raw = Math.log1p(item.positiveLong) * (1 + Math.log1p(affinity));
  return raw / (1 + raw);
}
