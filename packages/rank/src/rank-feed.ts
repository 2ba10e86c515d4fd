import { performance } from 'node:perf_hooks';
import type { CatalogItem } from '@nexttap/events';
import { buildFeatureMatrix, covisitListRequests, type ItemSnapshot, type ReadResult, type SessionSnapshot, type UserSnapshot } from '@nexttap/features';
import type { RankingModel } from '@nexttap/model';
import type { FeatureStore } from '@nexttap/store';
import { planCachedItemRead, readItemsCached, type CachedItemRead } from './cached-item-reads';
import { DEFAULT_CANDIDATE_LIMITS, generateCandidates, keepCataloged, requestCandidates, type Candidate, type CandidateLimits, type CandidateSource } from './candidates';
import { covisitReadRequests, covisitSeeds, mergeNeighbours } from './covisitation';
import { explainScores, type FeatureContribution } from './explain';
import { fallbackFeed } from './fallback-feed';
import type { ItemCache } from './item-cache';
import { applyOrderingRules, DEFAULT_FEED_RULES, filterCandidates, NO_RULE_EFFECTS, sortByScore, type FeedRuleSettings, type RuleEffect, type ScoredItem } from './feed-rules';
import type { PoolSnapshot } from './pool-cache';
import { scoreItems } from './scoring';
import { parseServedHistory, servedHistoryRequest, type RankingEntry } from './served-feeds';
import { StoreBudget, StoreBudgetExceededError, UNLIMITED_STORE_BUDGET } from './store-budget';
import { readItems, readSessionWith, readWithinBudget, StoreReadError } from './store-reads';

export interface FeedQuery {
  sessionId: string;
  userId?: string | undefined;
  /** Items to return at most. */
  limit: number;
  /** Items to re-rank; when absent, candidates come from the pools. */
  candidates?: readonly string[] | undefined;
  /** Items never to return. */
  exclude?: readonly string[] | undefined;
  /** Adds the top feature contributions to each returned item. */
  explain?: boolean | undefined;
  /** Whether the served-history rule applies; false for live feed pushes. Default true. */
  dropServed?: boolean | undefined;
}

/** Stages of one feed request, timed separately. */
export type FeedStage = 'session' | 'candidates' | 'features' | 'inference' | 'rules' | 'explain';

/** Reason a feed was served in a reduced form. */
export type DegradedReason = 'store-timeout' | 'store-unavailable' | 'model-failed' | 'model-non-finite';

export interface Degradation {
  reason: DegradedReason;
  message: string;
  /** The error behind the degradation, for the log; never sent to a client. */
  cause?: unknown;
}

export interface FeedItem {
  itemId: string;
  score: number;
  sources: CandidateSource[];
  /** False when the item has no catalog record; it was ranked with default features. */
  known: boolean;
  catalog: CatalogItem | undefined;
  rules: RuleEffect[];
  contributions?: FeatureContribution[];
}

export interface RankedFeed {
  items: FeedItem[];
  /** The ranking the page was cut from, up to the ranking depth, for paging and attribution. */
  ranking: RankingEntry[];
  /** Offset in `ranking` where the next page starts, or undefined when nothing is left. */
  nextOffset: number | undefined;
  /** Candidates scored after the filters. */
  candidateCount: number;
  degraded?: Degradation;
}

export interface RankContext {
  store: FeatureStore;
  model: RankingModel;
  pools: PoolSnapshot;
  nowMs: number;
  limits?: CandidateLimits;
  rules?: FeedRuleSettings;
  /** Time the request may wait for the store; default unlimited. */
  budget?: StoreBudget;
  /** Items of the ranking kept for paging and ordered by the rules. Default 200. */
  rankingDepth?: number;
  /** Uniform random numbers in [0, 1) for exploration. Default Math.random. */
  random?: () => number;
  /** Contributions listed per explained item. Default 5. */
  explainTop?: number;
  /** In-process copy of item features; without it every request reads every candidate. */
  itemCache?: ItemCache;
  observeStage?: (stage: FeedStage, seconds: number) => void;
}

export const DEFAULT_RANKING_DEPTH = 200;

/**
 * Ranks a feed: the session (with its served history) in one round trip, candidates, their
 * features in one round trip, one model run, then the feed rules. When the store fails or the
 * request's store budget runs out, the feed comes from the in-process pool copy instead and is
 * marked degraded. Other errors reject.
 */
export async function rankFeed(query: FeedQuery, context: RankContext): Promise<RankedFeed> {
  try {
    return await rankFromStore(query, context);
  } catch (error) {
    const degradation = storeDegradation(error);
    if (degradation === undefined) {
      throw error;
    }
    return fallbackFeed(query, context.pools, context.rules ?? DEFAULT_FEED_RULES, degradation);
  }
}

/** Describes a store failure as a degradation, or returns undefined for any other error. */
export function storeDegradation(error: unknown): Degradation | undefined {
  if (error instanceof StoreBudgetExceededError) {
    return { reason: 'store-timeout', message: `${error.message}; served from the in-process pool copy`, cause: error };
  }
  if (error instanceof StoreReadError) {
    return { reason: 'store-unavailable', message: 'the feature store failed; served from the in-process pool copy', cause: error };
  }
  return undefined;
}

async function rankFromStore(query: FeedQuery, context: RankContext): Promise<RankedFeed> {
  const rules = context.rules ?? DEFAULT_FEED_RULES;
  const budget = context.budget ?? UNLIMITED_STORE_BUDGET;
  const timer = new StageTimer(context.observeStage);
  const servedLength = query.dropServed === false || query.candidates !== undefined ? 0 : rules.dropServedFeeds;
  const served = servedLength > 0 ? [servedHistoryRequest(query.sessionId, servedLength)] : [];
  const requested = query.candidates === undefined ? undefined : requestCandidates(query.candidates);
  // The request's own candidates are known before the session is read, so with a cache their
  // item reads join the session's round trip.
  const early = requested === undefined || context.itemCache === undefined ? undefined : planEarlyRead(requested, query.sessionId, context.itemCache, context.nowMs);
  // Only the request's candidates can be dropped for the user's engagement, so only they are looked up.
  const requestedIds = early?.itemIds ?? requested?.map((candidate) => candidate.itemId);
  const state = await readSessionWith(context.store, query.sessionId, query.userId, context.nowMs, [...served, ...(early?.read.requests ?? [])], budget, requestedIds);
  timer.mark('session');

  const neighbours = requested === undefined ? await readNeighbours(state.session, context, budget) : undefined;
  const candidates =
    neighbours === undefined
      ? (requested ?? [])
      : generateCandidates(context.pools, state.session, state.user, context.limits ?? DEFAULT_CANDIDATE_LIMITS, neighbours.itemIds);
  const eligible = filterCandidates(
    candidates,
    {
      session: state.session,
      user: state.user,
      exclude: new Set(query.exclude ?? []),
      served: parseServedHistory(served.length > 0 ? state.extra[0] : undefined, servedLength),
      generated: query.candidates === undefined,
    },
    rules,
  );
  timer.mark('candidates');

  const earlyResults = early === undefined ? undefined : { itemIds: early.itemIds, read: early.read, results: state.extra.slice(served.length) };
  // The filters keep the candidates' order, so when they dropped none the ids read early are the eligible ones.
  const eligibleIds = early !== undefined && eligible.length === early.itemIds.length ? early.itemIds : eligible.map((candidate) => candidate.itemId);
  const eligibleSnapshots = await readCandidateItems(
    eligibleIds,
    state.session,
    context,
    budget,
    neighbours?.lists,
    earlyResults,
  );
  // A request's own unknown candidates are ranked and flagged, and generated ones are dropped.
  const { candidates: kept, snapshots } = requested === undefined ? keepCataloged(eligible, eligibleSnapshots) : { candidates: eligible, snapshots: eligibleSnapshots };
  timer.mark('features');

  const batch = await scoreItems(context.model, state.session, state.user, snapshots, context.nowMs);
  timer.mark('inference');

  const scored = kept.map((candidate, index): ScoredItem => {
    const snapshot = snapshots[index] as ItemSnapshot;
    return {
      itemId: candidate.itemId,
      score: batch.scores[index] ?? 0,
      sources: candidate.sources,
      catalog: snapshot.catalog,
      facts: snapshot.facts,
      impressions: snapshot.impressions,
      taps: snapshot.taps,
      rules: NO_RULE_EFFECTS,
    };
  });
  const depth = context.rankingDepth ?? DEFAULT_RANKING_DEPTH;
  const ordered = applyOrderingRules(sortByScore(scored), rules, { nowMs: context.nowMs, depth, random: context.random ?? Math.random });
  // The rules return a new array, so a ranking no longer than the depth is used as it is.
  const ranked = ordered.length > depth ? ordered.slice(0, depth) : ordered;
  const page = ranked.slice(0, query.limit);
  timer.mark('rules');

  // Named fields instead of `{ ...item, known }`. In Node.js 20's V8 a literal that starts with a
  // spread and adds fields got a hidden class of its own per object (`node --log-maps`). Each class
  // is an old-space allocation, and it kept the item's young objects through scavenges.
  const items = page.map(
    (item): FeedItem => ({ itemId: item.itemId, score: item.score, sources: item.sources, known: item.catalog !== undefined, catalog: item.catalog, rules: item.rules }),
  );
  if (query.explain === true) {
    await addContributions(items, snapshots, kept.map((candidate) => candidate.itemId), state, context);
    timer.mark('explain');
  }
  return {
    items,
    // Scored items carry every field of a ranking entry, so the ranking is the ranked list itself
    // rather than one new object per entry.
    ranking: ranked,
    nextOffset: ranked.length > page.length ? page.length : undefined,
    candidateCount: kept.length,
    ...(batch.outcome === 'model' ? {} : { degraded: modelDegradation(batch.outcome, batch.error) }),
  };
}

function planEarlyRead(requested: readonly Candidate[], sessionId: string, cache: ItemCache, nowMs: number): { itemIds: string[]; read: CachedItemRead } | undefined {
  if (requested.length === 0) {
    return undefined;
  }
  const itemIds = requested.map((candidate) => candidate.itemId);
  return { itemIds, read: planCachedItemRead(cache, itemIds, sessionId, nowMs) };
}

/**
 * Reads the features of the eligible items: through the item cache when the context has one, and
 * from the reads already made with the session when `early` has them.
 */
async function readCandidateItems(
  itemIds: readonly string[],
  session: SessionSnapshot,
  context: RankContext,
  budget: StoreBudget,
  covisitLists: readonly ReadResult[] | undefined,
  early: { itemIds: readonly string[]; read: CachedItemRead; results: readonly ReadResult[] } | undefined,
): Promise<ItemSnapshot[]> {
  if (itemIds.length === 0) {
    return [];
  }
  if (early !== undefined) {
    const listRequests = covisitListRequests(session);
    const lists = listRequests.length === 0 ? [] : await readWithinBudget(context.store, listRequests, budget);
    return pickInOrder(early.itemIds, early.read.complete(early.results, lists), itemIds);
  }
  if (context.itemCache === undefined) {
    return readItems(context.store, itemIds, context.nowMs, budget, session, covisitLists);
  }
  return readItemsCached(context.store, context.itemCache, itemIds, context.nowMs, budget, session, covisitLists);
}

/**
 * Returns the snapshots of `subsequence`, which lists some of `itemIds` in their order, as the
 * eligible candidates do with the requested ones. Walking both lists once replaces a map from id
 * to snapshot.
 */
function pickInOrder(itemIds: readonly string[], snapshots: readonly ItemSnapshot[], subsequence: readonly string[]): ItemSnapshot[] {
  if (subsequence.length === itemIds.length) {
    return snapshots as ItemSnapshot[];
  }
  const picked: ItemSnapshot[] = [];
  let index = 0;
  for (const itemId of subsequence) {
    while (index < itemIds.length && itemIds[index] !== itemId) {
      index += 1;
    }
    if (index === itemIds.length) {
      throw new Error(`item ${itemId} is not among the items read, or not in their order`);
    }
    picked.push(snapshots[index] as ItemSnapshot);
    index += 1;
  }
  return picked;
}

/**
 * Reads the co-visitation lists of the session's recent engaged items in one round trip, and
 * merges them into candidates. The lists are whole, so they also give the co-visitation feature.
 */
async function readNeighbours(session: SessionSnapshot, context: RankContext, budget: StoreBudget): Promise<{ itemIds: string[]; lists: ReadResult[] }> {
  const seeds = covisitSeeds(session);
  if (seeds.length === 0) {
    return { itemIds: [], lists: [] };
  }
  const lists = await readWithinBudget(context.store, covisitReadRequests(seeds), budget);
  return { itemIds: mergeNeighbours(seeds, lists), lists };
}

/** Adds feature contributions to the page's items, computed on the snapshots already read. */
async function addContributions(
  items: FeedItem[],
  snapshots: readonly ItemSnapshot[],
  snapshotIds: readonly string[],
  state: { session: SessionSnapshot; user: UserSnapshot | undefined },
  context: RankContext,
): Promise<void> {
  const byId = new Map(snapshotIds.map((itemId, index) => [itemId, snapshots[index] as ItemSnapshot]));
  const pageSnapshots = items.map((item) => byId.get(item.itemId) as ItemSnapshot);
  await explainItems(items, pageSnapshots, state, context);
}

/**
 * Adds feature contributions to items, given their snapshots in the same order. A failed model run
 * leaves the items without contributions rather than failing the feed.
 */
export async function explainItems(
  items: FeedItem[],
  snapshots: readonly ItemSnapshot[],
  state: { session: SessionSnapshot; user: UserSnapshot | undefined },
  context: RankContext,
): Promise<void> {
  const matrix = buildFeatureMatrix(context.model.features, state.session, state.user, snapshots, context.nowMs);
  let contributions: FeatureContribution[][];
  try {
    contributions = await explainScores(context.model, matrix, context.explainTop ?? 5);
  } catch {
    return;
  }
  items.forEach((item, index) => {
    item.contributions = contributions[index] ?? [];
  });
}

function modelDegradation(outcome: 'model-non-finite' | 'model-failed', error: unknown): Degradation {
  return outcome === 'model-failed'
    ? { reason: 'model-failed', message: 'the model run failed; items were ranked by the heuristic score', cause: error }
    : { reason: 'model-non-finite', message: 'the model returned a non-finite score; those items got the heuristic score' };
}

/** Measures consecutive stages of one request. */
class StageTimer {
  private lastMs = performance.now();

  constructor(private readonly observe: ((stage: FeedStage, seconds: number) => void) | undefined) {}

  mark(stage: FeedStage): void {
    const nowMs = performance.now();
    this.observe?.(stage, (nowMs - this.lastMs) / 1000);
    this.lastMs = nowMs;
  }
}

