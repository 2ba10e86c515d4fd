import type { InteractionType } from '@nexttap/events';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * Half-lives, bounds and TTLs of the feature state. They are part of the feature schema: a model
 * trained with one set of half-lives reads shifted features under another, so a change here bumps
 * `FEATURE_SCHEMA_VERSION`.
 */
export const FEATURE_SETTINGS = {
  /** Session affinity fades with a 30-minute half-life: a session is minutes long. */
  sessionHalfLifeMs: 30 * MINUTE_MS,
  /** Long-term user affinity fades with a 30-day half-life. */
  userHalfLifeMs: 30 * DAY_MS,
  /** Item counter half-lives: minutes, hours, a day and a week. */
  itemMinutesHalfLifeMs: 10 * MINUTE_MS,
  itemHourHalfLifeMs: HOUR_MS,
  itemDayHalfLifeMs: DAY_MS,
  itemWeekHalfLifeMs: 7 * DAY_MS,
  /** Co-visitation: a later item counts when engaged within 30 minutes of an earlier one. */
  covisitWindowMs: 30 * MINUTE_MS,
  /** Earlier engaged items of the session that one engagement links to. */
  covisitSources: 5,
  covisitHalfLifeMs: 7 * DAY_MS,
  covisitMaxNeighbours: 50,
  sessionRecentMax: 50,
  sessionInteractedMax: 500,
  sessionSeenMax: 500,
  userInteractedMax: 2_000,
  poolPopularMax: 10_000,
  poolCategoryMax: 10_000,
  poolFreshMax: 1_000,
  poolLiveMax: 1_000,
  poolCategoryNamesMax: 1_000,
  sessionTtlMs: DAY_MS,
  userTtlMs: 90 * DAY_MS,
  itemStatsTtlMs: 90 * DAY_MS,
  /** Window in which a repeated eventId is recognised and ignored. */
  dedupTtlMs: DAY_MS,
} as const;

export type FeatureSettings = typeof FEATURE_SETTINGS;

/**
 * Stored units of a co-visitation score per engagement. Each addition is stored rounded to a whole
 * unit, an error of at most 2^-21 engagements, so every score is an integer, and readers divide by
 * this. Redis keeps an integer score of a small sorted set as an integer in its compact listpack
 * encoding, where a fractional score is text that every update parses again for each member it
 * passes. The lists get several updates per engagement, so this cut redis-server CPU time per
 * MovieLens event by about a fifth (`bench/profile-writes.ts`).
 */
export const COVISIT_SCORE_SCALE = 2 ** 20;

/** Version of the feature definitions; a model manifest names the version it was trained on. */
export const FEATURE_SCHEMA_VERSION = 2;

/**
 * Weight of each interaction type in affinity. Positive types pull a session towards the item's
 * categories and creator, skips and hides push it away, and an impression alone says nothing.
 */
export const AFFINITY_WEIGHTS: Record<InteractionType, number> = {
  impression: 0,
  tap: 1,
  play: 1,
  complete: 2,
  like: 3,
  share: 3,
  comment: 2,
  skip: -1,
  hide: -3,
};

/** Types that count as engagement in popularity, co-visitation and the tap-through rate. */
export const POSITIVE_TYPES: ReadonlySet<InteractionType> = new Set(['tap', 'play', 'complete', 'like', 'share', 'comment']);

/** Types that count against an item: the person turned it down. */
export const NEGATIVE_TYPES: ReadonlySet<InteractionType> = new Set(['skip', 'hide']);

/** Dwell below this on a play or a tap counts as a skip: the person left within 3 seconds. */
export const SHORT_DWELL_MS = 3_000;
