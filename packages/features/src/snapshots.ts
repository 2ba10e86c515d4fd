import type { CatalogItem } from '@nexttap/events';
import { readDecayed } from './decay';
import { keys } from './keys';
import { halfLifeOfField, LANDMARK_FIELD, ZSET_LANDMARK_SUFFIX, type ReadRequest, type ReadResult } from './operations';
import { GLOBAL_FIELDS, ITEM_FIELDS, ITEM_STAT_FIELDS, isPositive, itemTypeField } from './plan';
import { decodeRecent, type RecentEntry } from './recent';
import { FEATURE_SETTINGS } from './settings';

export type { RecentEntry } from './recent';

/** A session's feature state at one instant; decayed values are read at that instant. */
export interface SessionSnapshot {
  sessionId: string;
  /** Recent events, newest first. */
  recent: RecentEntry[];
  /** Category affinity decayed to the read time; negative after skips and hides. */
  categoryAffinity: Map<string, number>;
  creatorAffinity: Map<string, number>;
  /** Items with any engagement other than an impression. */
  interacted: Set<string>;
  events: number;
  lastTs: number | undefined;
  lastPositiveTs: number | undefined;
}

export interface UserSnapshot {
  userId: string;
  categoryAffinity: Map<string, number>;
  creatorAffinity: Map<string, number>;
  interacted: Set<string>;
}

/** Smoothed-rate priors from the counters over all items. */
export interface GlobalPriors {
  tapRate: number;
  completionRate: number;
}

/** An item's counters decayed to the read time, its catalog record, and its relation to the session. */
export interface ItemSnapshot {
  itemId: string;
  catalog: CatalogItem | undefined;
  /** Decayed value of every field of `ITEM_STAT_FIELDS`, by field name. */
  stats: StatReader;
  positiveMinutes: number;
  positiveShort: number;
  positiveDay: number;
  positiveLong: number;
  /** Day-half-life counts of impressions, taps, likes, and of every engagement but impressions. */
  impressions: number;
  taps: number;
  likes: number;
  interactions: number;
  /** Sum of the decayed co-visitation scores from the session's recent engaged items to this item. */
  covisitScore: number;
  seenInSession: boolean;
  priors: GlobalPriors;
}

/** Read access to an item's decayed stats by field name; undefined for a field that is not a stat. */
export interface StatReader {
  get(field: string): number | undefined;
}

/** Decayed stats of one item, stored in `ITEM_STAT_FIELDS` order. */
class DecayedStats implements StatReader {
  constructor(private readonly values: Float64Array) {}

  get(field: string): number | undefined {
    const index = STAT_INDEX.get(field);
    return index === undefined ? undefined : this.values[index];
  }
}

const STAT_INDEX = new Map(ITEM_STAT_FIELDS.map((field, index) => [field, index]));
const STAT_HALF_LIVES = ITEM_STAT_FIELDS.map((field) => halfLifeOfField(field) as number);
const DISTINCT_HALF_LIVES = [...new Set(STAT_HALF_LIVES)];
/** Per stat, the index of its half-life in `DISTINCT_HALF_LIVES`. */
const STAT_HALF_LIFE_INDEX = STAT_HALF_LIVES.map((halfLifeMs) => DISTINCT_HALF_LIVES.indexOf(halfLifeMs));
const EMPTY_STATS = new DecayedStats(new Float64Array(ITEM_STAT_FIELDS.length));

/**
 * Parsed catalog records by their JSON text. The ranker parses the same few thousand records on
 * every request, so the text is the cache key: an updated record has new text and is parsed anew.
 */
const catalogCache = new Map<string, CatalogItem>();
const CATALOG_CACHE_MAX = 50_000;

function parseCatalog(text: string): CatalogItem {
  let item = catalogCache.get(text);
  if (item === undefined) {
    item = JSON.parse(text) as CatalogItem;
    if (catalogCache.size >= CATALOG_CACHE_MAX) {
      catalogCache.clear();
    }
    catalogCache.set(text, item);
  }
  return item;
}

/** Prior tap-through and completion rates used before any impressions or plays are counted. */
export const DEFAULT_PRIORS: GlobalPriors = { tapRate: 0.1, completionRate: 0.5 };

/** Recent engaged items whose co-visitation lists score the candidates, newest first. */
export function covisitSources(session: SessionSnapshot): string[] {
  const sources: string[] = [];
  for (const entry of session.recent) {
    if (sources.length === FEATURE_SETTINGS.covisitSources) {
      break;
    }
    if (isPositive(entry) && !sources.includes(entry.itemId)) {
      sources.push(entry.itemId);
    }
  }
  return sources;
}

/** Builds the reads of a session (and its user, when given); `parseSessionReads` decodes their results. */
export function sessionReadRequests(sessionId: string, userId: string | undefined): ReadRequest[] {
  const requests: ReadRequest[] = [
    { kind: 'list', key: keys.sessionRecent(sessionId), limit: FEATURE_SETTINGS.sessionRecentMax },
    { kind: 'hash', key: keys.sessionAffinity(sessionId) },
    { kind: 'zsetTop', key: keys.sessionInteracted(sessionId), limit: FEATURE_SETTINGS.sessionInteractedMax },
    { kind: 'hash', key: keys.sessionMeta(sessionId) },
  ];
  if (userId !== undefined) {
    requests.push(
      { kind: 'hash', key: keys.userAffinity(userId) },
      { kind: 'zsetTop', key: keys.userInteracted(userId), limit: FEATURE_SETTINGS.userInteractedMax },
    );
  }
  return requests;
}

/** Parses the results of `sessionReadRequests`, decaying affinities to `nowMs`. */
export function parseSessionReads(
  sessionId: string,
  userId: string | undefined,
  results: readonly ReadResult[],
  nowMs: number,
): { session: SessionSnapshot; user: UserSnapshot | undefined } {
  const [recent, affinity, interacted, meta, userAffinity, userInteracted] = results;
  const metaFields = hashValue(meta);
  const sessionAffinity = splitAffinity(decayHash(hashValue(affinity), nowMs));
  const session: SessionSnapshot = {
    sessionId,
    recent: listValue(recent).flatMap((text) => decodeRecent(text) ?? []),
    categoryAffinity: sessionAffinity.categories,
    creatorAffinity: sessionAffinity.creators,
    interacted: new Set(zsetMembers(interacted)),
    events: Number(metaFields.events ?? 0),
    lastTs: optionalNumber(metaFields.lastTs),
    lastPositiveTs: optionalNumber(metaFields.lastPositiveTs),
  };
  if (userId === undefined) {
    return { session, user: undefined };
  }
  const longTerm = splitAffinity(decayHash(hashValue(userAffinity), nowMs));
  const user = { userId, categoryAffinity: longTerm.categories, creatorAffinity: longTerm.creators, interacted: new Set(zsetMembers(userInteracted)) };
  return { session, user };
}

/**
 * Builds the reads of the items' counters, catalog records and global priors, and, with a session,
 * whether the session saw each item and its co-visitation scores: one round trip.
 */
export function itemReadRequests(itemIds: readonly string[], session?: SessionSnapshot): ReadRequest[] {
  const members = [...itemIds];
  const requests: ReadRequest[] = [
    { kind: 'snapshots', keys: members.map((itemId) => keys.itemSnapshot(itemId)) },
    { kind: 'strings', keys: members.map((itemId) => keys.itemCatalog(itemId)) },
    { kind: 'hash', key: keys.globalStats() },
  ];
  if (session !== undefined) {
    const sources = covisitSources(session);
    requests.push({ kind: 'zsetScores', key: keys.sessionSeen(session.sessionId), members });
    requests.push({ kind: 'strings', keys: sources.map((source) => keys.itemCovisit(source) + ZSET_LANDMARK_SUFFIX) });
    for (const source of sources) {
      requests.push({ kind: 'zsetScores', key: keys.itemCovisit(source), members });
    }
  }
  return requests;
}

/** Parses the results of `itemReadRequests`, decaying counters to `nowMs`. */
export function parseItemReads(itemIds: readonly string[], results: readonly ReadResult[], nowMs: number, session?: SessionSnapshot): ItemSnapshot[] {
  const [snapshots, catalogs, global, seen, covisitLandmarks, ...covisits] = results;
  const snapshotValues = snapshots?.kind === 'snapshots' ? snapshots.value : [];
  const catalogValues = catalogs?.kind === 'strings' ? catalogs.value : [];
  const priors = parsePriors(hashValue(global), nowMs);
  const seenScores = session !== undefined && seen?.kind === 'zsetScores' ? seen.value : [];
  const landmarks = covisitLandmarks?.kind === 'strings' ? covisitLandmarks.value.map(Number) : [];
  return itemIds.map((itemId, index) => {
    const stats = decaySnapshot(snapshotValues[index] ?? null, nowMs);
    const catalogText = catalogValues[index];
    let covisitScore = 0;
    for (let source = 0; source < covisits.length; source++) {
      const result = covisits[source];
      const score = result?.kind === 'zsetScores' ? result.value[index] : null;
      if (score !== null && score !== undefined) {
        covisitScore += readDecayed(score, landmarks[source] ?? nowMs, nowMs, FEATURE_SETTINGS.covisitHalfLifeMs);
      }
    }
    return {
      itemId,
      catalog: catalogText ? parseCatalog(catalogText) : undefined,
      stats,
      positiveMinutes: stats.get(ITEM_FIELDS.positiveMinutes) ?? 0,
      positiveShort: stats.get(ITEM_FIELDS.positiveHour) ?? 0,
      positiveDay: stats.get(ITEM_FIELDS.positiveDay) ?? 0,
      positiveLong: stats.get(ITEM_FIELDS.positiveWeek) ?? 0,
      impressions: dayCount(stats, 'impression'),
      taps: dayCount(stats, 'tap'),
      likes: dayCount(stats, 'like'),
      interactions: ENGAGEMENT_TYPES.reduce((sum, type) => sum + dayCount(stats, type), 0),
      covisitScore,
      seenInSession: seenScores[index] !== undefined && seenScores[index] !== null,
      priors,
    };
  });
}

/** Types counted in `ItemSnapshot.interactions`: every engagement but impressions. */
const ENGAGEMENT_TYPES = ['tap', 'play', 'complete', 'like', 'share', 'comment', 'skip', 'hide'] as const;

/**
 * Returns an item's day-half-life count of one event type. It is a module function, not a closure
 * per item, because tsx (esbuild keepNames) wraps each closure it creates in a naming call.
 */
function dayCount(stats: DecayedStats, type: Parameters<typeof itemTypeField>[0]): number {
  return stats.get(itemTypeField(type, 'day')) ?? 0;
}

/**
 * Decays a packed item snapshot (landmark, then `ITEM_STAT_FIELDS`) to `nowMs`, with one power
 * per distinct half-life rather than one per field.
 */
function decaySnapshot(values: Float64Array | null, nowMs: number): DecayedStats {
  if (values === null) {
    return EMPTY_STATS;
  }
  const landmarkMs = values[0] ?? 0;
  const divisors = DISTINCT_HALF_LIVES.map((halfLifeMs) => readDecayed(1, landmarkMs, nowMs, halfLifeMs));
  const decayed = new Float64Array(ITEM_STAT_FIELDS.length);
  for (let index = 0; index < decayed.length; index++) {
    decayed[index] = (values[index + 1] ?? 0) * (divisors[STAT_HALF_LIFE_INDEX[index] as number] as number);
  }
  return new DecayedStats(decayed);
}

function parsePriors(fields: Record<string, string>, nowMs: number): GlobalPriors {
  const counts = decayHash(fields, nowMs);
  const impressions = counts.get(GLOBAL_FIELDS.impressions) ?? 0;
  const plays = counts.get(GLOBAL_FIELDS.plays) ?? 0;
  // Until enough is counted, the priors stay at their defaults: 100 impressions or plays is an
  // estimate, chosen so that a handful of early events cannot swing every item's rate.
  return {
    tapRate: impressions >= 100 ? (counts.get(GLOBAL_FIELDS.taps) ?? 0) / impressions : DEFAULT_PRIORS.tapRate,
    completionRate: plays >= 100 ? (counts.get(GLOBAL_FIELDS.completes) ?? 0) / plays : DEFAULT_PRIORS.completionRate,
  };
}

/** Decays every `name@halfLife` field of a hash to `nowMs`, keyed by the full field name. */
function decayHash(fields: Record<string, string>, nowMs: number): Map<string, number> {
  const result = new Map<string, number>();
  const landmarkMs = Number(fields[LANDMARK_FIELD]);
  if (!Number.isFinite(landmarkMs)) {
    return result;
  }
  for (const [field, text] of Object.entries(fields)) {
    const halfLifeMs = halfLifeOfField(field);
    if (halfLifeMs !== undefined) {
      result.set(field, readDecayed(Number(text), landmarkMs, nowMs, halfLifeMs));
    }
  }
  return result;
}

/** Splits `category:<id>@h` and `creator:<id>@h` fields into two maps keyed by the bare id. */
function splitAffinity(decayed: Map<string, number>): { categories: Map<string, number>; creators: Map<string, number> } {
  const categories = new Map<string, number>();
  const creators = new Map<string, number>();
  for (const [field, value] of decayed) {
    const name = field.slice(0, field.lastIndexOf('@'));
    if (name.startsWith('category:')) {
      categories.set(name.slice('category:'.length), value);
    } else if (name.startsWith('creator:')) {
      creators.set(name.slice('creator:'.length), value);
    }
  }
  return { categories, creators };
}

function optionalNumber(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

function hashValue(result: ReadResult | undefined): Record<string, string> {
  return result?.kind === 'hash' ? result.value : {};
}

function listValue(result: ReadResult | undefined): string[] {
  return result?.kind === 'list' ? result.value : [];
}

function zsetMembers(result: ReadResult | undefined): string[] {
  return result?.kind === 'zsetTop' ? result.value.map((entry) => entry.member) : [];
}
