import { isNegative } from './plan';
import { affinityByCategoryNumber, denseAffinityByCategoryNumber } from './catalog-facts';
import type { ItemColumns } from './item-columns';
import { itemColumnsOf, type ItemSnapshot, type SessionSnapshot, type UserSnapshot } from './snapshots';

const DAY_MS = 86_400_000;

/** Everything a feature may look at when it scores one candidate for one request. */
export interface FeatureContext {
  session: SessionSnapshot;
  user: UserSnapshot | undefined;
  item: ItemSnapshot;
  nowMs: number;
  /**
   * Sums of absolute affinities by affinity map, filled on first use. A matrix build sets it,
   * because its rows share one session and user; a context whose snapshots change must not.
   */
  affinityTotals?: Map<ReadonlyMap<string, number>, number>;
}

/** A feature the ranker can compute: the single source for feature matrices, manifests and docs. */
export interface FeatureDefinition {
  name: string;
  type: 'float32';
  /** Value used when the inputs are missing, e.g. an unknown item or an anonymous user. */
  defaultValue: number;
  description: string;
  /**
   * True when the value depends only on the session, the user and the time, never on the item, so
   * a feature matrix computes it once per request instead of once per candidate.
   */
  perRequest?: boolean;
  /** Returns the value for `context.item`; undefined or NaN when the inputs are missing. */
  compute(context: FeatureContext): number | undefined;
  /**
   * Writes the value for every row of `items` (`itemColumnsOf`) into `out` (one entry per row, NaN
   * where the inputs are missing), equal to `compute` for each item. A matrix build calls it once
   * per column instead of `compute` once per cell; `context.item` is not read.
   */
  computeColumn?(items: ItemColumns, context: FeatureContext, out: Float64Array): void;
}

type ItemFeatureInput = Omit<FeatureDefinition, 'type' | 'compute' | 'perRequest' | 'computeColumn'> & {
  computeColumn(items: ItemColumns, context: FeatureContext, out: Float64Array): void;
};

/**
 * Defines a feature of the item by its column kernel, and derives the one-item `compute` from it,
 * so that each feature's formula is written once. Every kernel has its own loop: a shared loop
 * calling a function per item would see every feature at one call site and run slower.
 */
function itemFeature(input: ItemFeatureInput): FeatureDefinition {
  const cell = new Float64Array(1);
  return {
    ...input,
    type: 'float32',
    compute: (context) => {
      input.computeColumn(itemColumnsOf([context.item]), context, cell);
      return cell[0];
    },
  };
}

export const FEATURE_REGISTRY: readonly FeatureDefinition[] = [
  itemFeature({
    name: 'item_popularity_week',
    defaultValue: 0,
    description: 'log(1 + engagements with the item), 7-day half-life',
    computeColumn: (items, _, out) => {
      const positive = items.positiveWeek;
      for (let row = 0; row < items.rows; row++) {
        out[row] = Math.log1p(Math.max(0, positive[row] as number));
      }
    },
  }),
  itemFeature({
    name: 'item_popularity_day',
    defaultValue: 0,
    description: 'log(1 + engagements with the item), 1-day half-life',
    computeColumn: (items, _, out) => {
      const positive = items.positiveDay;
      for (let row = 0; row < items.rows; row++) {
        out[row] = Math.log1p(Math.max(0, positive[row] as number));
      }
    },
  }),
  itemFeature({
    name: 'item_popularity_hour',
    defaultValue: 0,
    description: 'log(1 + engagements with the item), 1-hour half-life',
    computeColumn: (items, _, out) => {
      const positive = items.positiveHour;
      for (let row = 0; row < items.rows; row++) {
        out[row] = Math.log1p(Math.max(0, positive[row] as number));
      }
    },
  }),
  itemFeature({
    name: 'item_trend_velocity',
    defaultValue: 0,
    description: "log of the item's engagement rate over the last hour against the last day ((24·hour + 1) / (day + 1)); 0 when steady",
    computeColumn: (items, _, out) => {
      const { positiveHour, positiveDay } = items;
      for (let row = 0; row < items.rows; row++) {
        out[row] = Math.log((24 * (positiveHour[row] as number) + 1) / ((positiveDay[row] as number) + 1));
      }
    },
  }),
  itemFeature({
    name: 'item_tap_rate',
    defaultValue: 0.1,
    description: 'taps per impression (1-day half-life), smoothed towards the rate over all items with the weight of 20 impressions',
    computeColumn: (items, _, out) => {
      const { taps, tapRatePrior, impressions } = items;
      for (let row = 0; row < items.rows; row++) {
        out[row] = ((taps[row] as number) + 20 * (tapRatePrior[row] as number)) / ((impressions[row] as number) + 20);
      }
    },
  }),
  itemFeature({
    name: 'item_completion_rate',
    defaultValue: 0.5,
    description: 'completes per play (1-day half-life), smoothed towards the rate over all items with the weight of 20 plays',
    computeColumn: (items, _, out) => {
      const { completes, completionRatePrior, plays } = items;
      for (let row = 0; row < items.rows; row++) {
        out[row] = ((completes[row] as number) + 20 * (completionRatePrior[row] as number)) / ((plays[row] as number) + 20);
      }
    },
  }),
  itemFeature({
    name: 'item_like_rate',
    defaultValue: 0.5,
    description: 'likes per engagement other than impressions (1-day half-life), smoothed with a uniform Beta(1, 1) prior',
    computeColumn: (items, _, out) => {
      const { likes, interactions } = items;
      for (let row = 0; row < items.rows; row++) {
        out[row] = ((likes[row] as number) + 1) / ((interactions[row] as number) + 2);
      }
    },
  }),
  itemFeature({
    name: 'item_skip_rate',
    defaultValue: 0.5,
    description: 'skips and hides per engagement other than impressions (1-day half-life), smoothed with a Beta(1, 1) prior',
    computeColumn: (items, _, out) => {
      const { skips, hides, interactions } = items;
      for (let row = 0; row < items.rows; row++) {
        out[row] = ((skips[row] as number) + (hides[row] as number) + 1) / ((interactions[row] as number) + 2);
      }
    },
  }),
  itemFeature({
    name: 'item_mean_dwell_seconds',
    defaultValue: 0,
    description: 'log(1 + mean dwell in seconds on the item, 1-day half-life); the default before any dwell is known',
    computeColumn: (items, _, out) => {
      const { dwellCount, dwellSeconds } = items;
      for (let row = 0; row < items.rows; row++) {
        const count = dwellCount[row] as number;
        // Below a tenth of one decayed event, the mean is noise from an old dwell.
        out[row] = count < 0.1 ? Number.NaN : Math.log1p((dwellSeconds[row] as number) / count);
      }
    },
  }),
  itemFeature({
    name: 'item_age_days',
    defaultValue: 0,
    description: 'log(1 + days since the item was published); the default when the catalog has no publishedAt (see item_has_publish_date)',
    computeColumn: (items, { nowMs }, out) => {
      // publishedAtMs is NaN without a date, and so is the value.
      const publishedAtMs = items.publishedAtMs;
      for (let row = 0; row < items.rows; row++) {
        out[row] = Math.log1p(Math.max(0, nowMs - (publishedAtMs[row] as number)) / DAY_MS);
      }
    },
  }),
  itemFeature({
    name: 'item_has_publish_date',
    defaultValue: 0,
    description: '1 when the catalog gives a publishedAt, else 0, so a missing date is not read as a new item',
    computeColumn: (items, _, out) => {
      const values = items.hasPublishedAt;
      for (let row = 0; row < items.rows; row++) {
        out[row] = values[row] as number;
      }
    },
  }),
  itemFeature({
    name: 'item_live',
    defaultValue: 0,
    description: '1 when the catalog marks the item live, else 0',
    computeColumn: (items, _, out) => {
      const values = items.live;
      for (let row = 0; row < items.rows; row++) {
        out[row] = values[row] as number;
      }
    },
  }),
  itemFeature({
    name: 'item_category_count',
    defaultValue: 0,
    description: 'number of categories of the item in the catalog',
    computeColumn: (items, _, out) => {
      const values = items.categoryCount;
      for (let row = 0; row < items.rows; row++) {
        out[row] = values[row] as number;
      }
    },
  }),
  itemFeature({
    name: 'session_category_affinity',
    defaultValue: 0,
    description: "sum over the item's categories of the session's affinity share (30-minute half-life); negative after skips",
    computeColumn: (items, context, out) => categoryShares(items, context, context.session.categoryAffinity, 'sum', out),
  }),
  itemFeature({
    name: 'session_category_max',
    defaultValue: 0,
    description: "largest session affinity share among the item's categories",
    computeColumn: (items, context, out) => categoryShares(items, context, context.session.categoryAffinity, 'max', out),
  }),
  itemFeature({
    name: 'session_creator_affinity',
    defaultValue: 0,
    description: "the session's affinity share of the item's creator (30-minute half-life)",
    computeColumn: (items, context, out) => creatorShares(items, context, context.session.creatorAffinity, out),
  }),
  itemFeature({
    name: 'session_covisit_score',
    defaultValue: 0,
    description: "log(1 + co-visitation score from the session's last 5 engaged items to the item, 7-day half-life)",
    computeColumn: (items, _, out) => {
      const covisitScore = items.covisitScore;
      for (let row = 0; row < items.rows; row++) {
        out[row] = Math.log1p(Math.max(0, covisitScore[row] as number));
      }
    },
  }),
  itemFeature({
    name: 'session_item_seen',
    defaultValue: 0,
    description: '1 when the session already had an impression of the item, else 0',
    computeColumn: (items, _, out) => {
      const values = items.seenInSession;
      for (let row = 0; row < items.rows; row++) {
        out[row] = values[row] as number;
      }
    },
  }),
  {
    name: 'session_event_count',
    type: 'float32',
    perRequest: true,
    defaultValue: 0,
    description: 'log(1 + events in the session so far)',
    compute: ({ session }) => Math.log1p(session.events),
  },
  {
    name: 'session_seconds_since_last',
    type: 'float32',
    perRequest: true,
    defaultValue: 0,
    description: "log(1 + seconds since the session's latest event); the default for a new session",
    compute: ({ session, nowMs }) => secondsSince(session.lastTs, nowMs),
  },
  {
    name: 'session_seconds_since_last_positive',
    type: 'float32',
    perRequest: true,
    defaultValue: 0,
    description: "log(1 + seconds since the session's latest engagement); the default before the first one",
    compute: ({ session, nowMs }) => secondsSince(session.lastPositiveTs, nowMs),
  },
  {
    name: 'session_skip_streak',
    type: 'float32',
    perRequest: true,
    defaultValue: 0,
    description: 'skips, hides and plays under 3 s in a row at the end of the session, impressions not counted',
    compute: ({ session }) => skipStreak(session),
  },
  {
    name: 'session_mean_dwell_seconds',
    type: 'float32',
    perRequest: true,
    defaultValue: 0,
    description: "log(1 + mean dwell in seconds over the session's recent events that carry one)",
    compute: ({ session }) => sessionMeanDwell(session),
  },
  itemFeature({
    name: 'user_category_affinity',
    defaultValue: 0,
    description: "sum over the item's categories of the user's long-term affinity share (30-day half-life)",
    computeColumn: (items, context, out) =>
      context.user === undefined ? out.fill(Number.NaN, 0, items.rows) : categoryShares(items, context, context.user.categoryAffinity, 'sum', out),
  }),
  itemFeature({
    name: 'user_creator_affinity',
    defaultValue: 0,
    description: "the user's long-term affinity share of the item's creator (30-day half-life)",
    computeColumn: (items, context, out) =>
      context.user === undefined ? out.fill(Number.NaN, 0, items.rows) : creatorShares(items, context, context.user.creatorAffinity, out),
  }),
  {
    name: 'user_known',
    type: 'float32',
    perRequest: true,
    defaultValue: 0,
    description: '1 when the request names a user with long-term history, else 0',
    compute: ({ user }) => (user !== undefined && user.categoryAffinity.size > 0 ? 1 : 0),
  },
];

const REGISTRY_BY_NAME = new Map(FEATURE_REGISTRY.map((feature) => [feature.name, feature]));

/** Returns the definition of a feature, or undefined when the feature code does not produce it. */
export function findFeature(name: string): FeatureDefinition | undefined {
  return REGISTRY_BY_NAME.get(name);
}

/**
 * Writes the affinity share of each item's categories: each category's affinity divided by the
 * sum of absolute affinities, so sessions of any length give values in [-1, 1]. An item without
 * a catalog record or categories gets NaN.
 */
function categoryShares(items: ItemColumns, context: FeatureContext, affinity: ReadonlyMap<string, number>, mode: 'sum' | 'max', out: Float64Array): void {
  const total = absoluteSumOf(context, affinity);
  const dense = total === 0 ? undefined : denseAffinityByCategoryNumber(affinity);
  if (dense !== undefined) {
    denseCategoryShares(items, dense, total, mode, out);
    return;
  }
  const byNumber = total === 0 ? undefined : affinityByCategoryNumber(affinity);
  const { categoryStarts, categoryNumbers } = items;
  for (let row = 0; row < items.rows; row++) {
    const start = categoryStarts[row] as number;
    const end = categoryStarts[row + 1] as number;
    if (start === end) {
      out[row] = Number.NaN;
      continue;
    }
    if (byNumber === undefined) {
      out[row] = 0;
      continue;
    }
    let result = mode === 'sum' ? 0 : Number.NEGATIVE_INFINITY;
    for (let index = start; index < end; index++) {
      const share = (byNumber.get(categoryNumbers[index] as number) ?? 0) / total;
      result = mode === 'sum' ? result + share : Math.max(result, share);
    }
    out[row] = result;
  }
}

/** Writes what `categoryShares` writes, with the affinities in an array indexed by category number. */
function denseCategoryShares(items: ItemColumns, affinity: Float64Array, total: number, mode: 'sum' | 'max', out: Float64Array): void {
  const { categoryStarts, categoryNumbers } = items;
  for (let row = 0; row < items.rows; row++) {
    const start = categoryStarts[row] as number;
    const end = categoryStarts[row + 1] as number;
    if (start === end) {
      out[row] = Number.NaN;
      continue;
    }
    let result = mode === 'sum' ? 0 : Number.NEGATIVE_INFINITY;
    for (let index = start; index < end; index++) {
      // A number past the array's end, a category the map lacks, reads undefined and counts 0.
      const share = (affinity[categoryNumbers[index] as number] ?? 0) / total;
      result = mode === 'sum' ? result + share : Math.max(result, share);
    }
    out[row] = result;
  }
}

/**
 * Writes each item's creator's affinity share, or NaN for an item without a creator. Creators are
 * looked up by id in the affinity map, and only when the map has a nonzero affinity.
 */
function creatorShares(items: ItemColumns, context: FeatureContext, affinity: ReadonlyMap<string, number>, out: Float64Array): void {
  const total = absoluteSumOf(context, affinity);
  const creatorIds = items.creatorIds;
  for (let row = 0; row < items.rows; row++) {
    const creatorId = creatorIds[row];
    if (creatorId === undefined) {
      out[row] = Number.NaN;
    } else {
      out[row] = total === 0 ? 0 : (affinity.get(creatorId) ?? 0) / total;
    }
  }
}

/** Returns the sum of absolute affinities, from the context's memo when it has one. */
function absoluteSumOf(context: FeatureContext, affinity: ReadonlyMap<string, number>): number {
  const totals = context.affinityTotals;
  if (totals === undefined) {
    return absoluteSum(affinity);
  }
  let total = totals.get(affinity);
  if (total === undefined) {
    total = absoluteSum(affinity);
    totals.set(affinity, total);
  }
  return total;
}

function absoluteSum(values: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const value of values.values()) {
    total += Math.abs(value);
  }
  return total;
}

function secondsSince(tMs: number | undefined, nowMs: number): number | undefined {
  return tMs === undefined ? undefined : Math.log1p(Math.max(0, nowMs - tMs) / 1000);
}

function skipStreak(session: SessionSnapshot): number {
  let streak = 0;
  for (const entry of session.recent) {
    if (entry.type === 'impression') {
      continue;
    }
    if (!isNegative(entry)) {
      break;
    }
    streak += 1;
  }
  return streak;
}

function sessionMeanDwell(session: SessionSnapshot): number | undefined {
  let total = 0;
  let counted = 0;
  for (const entry of session.recent) {
    if (entry.dwellMs !== undefined) {
      total += entry.dwellMs;
      counted += 1;
    }
  }
  return counted === 0 ? undefined : Math.log1p(total / counted / 1000);
}
