import { INTERACTION_TYPES, type InteractionType } from '@nexttap/events';
import { isNegative, ITEM_FIELDS, itemTypeField } from './plan';
import type { ItemSnapshot, SessionSnapshot, UserSnapshot } from './snapshots';

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
   * a feature matrix computes it once and copies it down the column.
   */
  sameForEveryItem?: true;
  compute(context: FeatureContext): number | undefined;
}

export const FEATURE_REGISTRY: readonly FeatureDefinition[] = [
  {
    name: 'item_popularity_week',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + engagements with the item), 7-day half-life',
    compute: ({ item }) => Math.log1p(Math.max(0, item.positiveLong)),
  },
  {
    name: 'item_popularity_day',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + engagements with the item), 1-day half-life',
    compute: ({ item }) => Math.log1p(Math.max(0, item.positiveDay)),
  },
  {
    name: 'item_popularity_hour',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + engagements with the item), 1-hour half-life',
    compute: ({ item }) => Math.log1p(Math.max(0, item.positiveShort)),
  },
  {
    name: 'item_trend_velocity',
    type: 'float32',
    defaultValue: 0,
    description: "log of the item's engagement rate over the last hour against the last day ((24·hour + 1) / (day + 1)); 0 when steady",
    compute: ({ item }) => Math.log((24 * item.positiveShort + 1) / (item.positiveDay + 1)),
  },
  {
    name: 'item_tap_rate',
    type: 'float32',
    defaultValue: 0.1,
    description: 'taps per impression (1-day half-life), smoothed towards the rate over all items with the weight of 20 impressions',
    compute: ({ item }) => (item.taps + 20 * item.priors.tapRate) / (item.impressions + 20),
  },
  {
    name: 'item_completion_rate',
    type: 'float32',
    defaultValue: 0.5,
    description: 'completes per play (1-day half-life), smoothed towards the rate over all items with the weight of 20 plays',
    compute: ({ item }) => (count(item, 'complete') + 20 * item.priors.completionRate) / (count(item, 'play') + 20),
  },
  {
    name: 'item_like_rate',
    type: 'float32',
    defaultValue: 0.5,
    description: 'likes per engagement other than impressions (1-day half-life), smoothed with a uniform Beta(1, 1) prior',
    compute: ({ item }) => (item.likes + 1) / (item.interactions + 2),
  },
  {
    name: 'item_skip_rate',
    type: 'float32',
    defaultValue: 0.5,
    description: 'skips and hides per engagement other than impressions (1-day half-life), smoothed with a Beta(1, 1) prior',
    compute: ({ item }) => (count(item, 'skip') + count(item, 'hide') + 1) / (item.interactions + 2),
  },
  {
    name: 'item_mean_dwell_seconds',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + mean dwell in seconds on the item, 1-day half-life); the default before any dwell is known',
    compute: ({ item }) => meanDwell(item),
  },
  {
    name: 'item_age_days',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + days since the item was published); the default when the catalog has no publishedAt (see item_has_publish_date)',
    compute: ({ item, nowMs }) =>
      item.catalog?.publishedAt === undefined ? undefined : Math.log1p(Math.max(0, nowMs - item.catalog.publishedAt) / DAY_MS),
  },
  {
    name: 'item_has_publish_date',
    type: 'float32',
    defaultValue: 0,
    description: '1 when the catalog gives a publishedAt, else 0, so a missing date is not read as a new item',
    compute: ({ item }) => (item.catalog?.publishedAt === undefined ? 0 : 1),
  },
  {
    name: 'item_live',
    type: 'float32',
    defaultValue: 0,
    description: '1 when the catalog marks the item live, else 0',
    compute: ({ item }) => (item.catalog?.live === true ? 1 : 0),
  },
  {
    name: 'item_category_count',
    type: 'float32',
    defaultValue: 0,
    description: 'number of categories of the item in the catalog',
    compute: ({ item }) => item.catalog?.categories.length,
  },
  {
    name: 'session_category_affinity',
    type: 'float32',
    defaultValue: 0,
    description: "sum over the item's categories of the session's affinity share (30-minute half-life); negative after skips",
    compute: (context) => categoryShare(context, context.session.categoryAffinity, 'sum'),
  },
  {
    name: 'session_category_max',
    type: 'float32',
    defaultValue: 0,
    description: "largest session affinity share among the item's categories",
    compute: (context) => categoryShare(context, context.session.categoryAffinity, 'max'),
  },
  {
    name: 'session_creator_affinity',
    type: 'float32',
    defaultValue: 0,
    description: "the session's affinity share of the item's creator (30-minute half-life)",
    compute: (context) => creatorShare(context, context.session.creatorAffinity),
  },
  {
    name: 'session_covisit_score',
    type: 'float32',
    defaultValue: 0,
    description: "log(1 + co-visitation score from the session's last 5 engaged items to the item, 7-day half-life)",
    compute: ({ item }) => Math.log1p(Math.max(0, item.covisitScore)),
  },
  {
    name: 'session_item_seen',
    type: 'float32',
    defaultValue: 0,
    description: '1 when the session already had an impression of the item, else 0',
    compute: ({ item }) => (item.seenInSession ? 1 : 0),
  },
  {
    name: 'session_event_count',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + events in the session so far)',
    sameForEveryItem: true,
    compute: ({ session }) => Math.log1p(session.events),
  },
  {
    name: 'session_seconds_since_last',
    type: 'float32',
    defaultValue: 0,
    description: "log(1 + seconds since the session's latest event); the default for a new session",
    sameForEveryItem: true,
    compute: ({ session, nowMs }) => secondsSince(session.lastTs, nowMs),
  },
  {
    name: 'session_seconds_since_last_positive',
    type: 'float32',
    defaultValue: 0,
    description: "log(1 + seconds since the session's latest engagement); the default before the first one",
    sameForEveryItem: true,
    compute: ({ session, nowMs }) => secondsSince(session.lastPositiveTs, nowMs),
  },
  {
    name: 'session_skip_streak',
    type: 'float32',
    defaultValue: 0,
    description: 'skips, hides and plays under 3 s in a row at the end of the session, impressions not counted',
    sameForEveryItem: true,
    compute: ({ session }) => skipStreak(session),
  },
  {
    name: 'session_mean_dwell_seconds',
    type: 'float32',
    defaultValue: 0,
    description: "log(1 + mean dwell in seconds over the session's recent events that carry one)",
    sameForEveryItem: true,
    compute: ({ session }) => sessionMeanDwell(session),
  },
  {
    name: 'user_category_affinity',
    type: 'float32',
    defaultValue: 0,
    description: "sum over the item's categories of the user's long-term affinity share (30-day half-life)",
    compute: (context) => (context.user === undefined ? undefined : categoryShare(context, context.user.categoryAffinity, 'sum')),
  },
  {
    name: 'user_creator_affinity',
    type: 'float32',
    defaultValue: 0,
    description: "the user's long-term affinity share of the item's creator (30-day half-life)",
    compute: (context) => (context.user === undefined ? undefined : creatorShare(context, context.user.creatorAffinity)),
  },
  {
    name: 'user_known',
    type: 'float32',
    defaultValue: 0,
    description: '1 when the request names a user with long-term history, else 0',
    sameForEveryItem: true,
    compute: ({ user }) => (user !== undefined && user.categoryAffinity.size > 0 ? 1 : 0),
  },
];

const REGISTRY_BY_NAME = new Map(FEATURE_REGISTRY.map((feature) => [feature.name, feature]));

/** Returns the definition of a feature, or undefined when the feature code does not produce it. */
export function findFeature(name: string): FeatureDefinition | undefined {
  return REGISTRY_BY_NAME.get(name);
}

/**
 * Returns the affinity share of an item's categories: each category's affinity divided by the sum
 * of absolute affinities, so sessions of any length give values in [-1, 1].
 */
function categoryShare(context: FeatureContext, affinity: ReadonlyMap<string, number>, mode: 'sum' | 'max'): number | undefined {
  const catalog = context.item.catalog;
  if (catalog === undefined || catalog.categories.length === 0) {
    return undefined;
  }
  const total = absoluteSumOf(context, affinity);
  if (total === 0) {
    return 0;
  }
  let result = mode === 'sum' ? 0 : Number.NEGATIVE_INFINITY;
  for (const category of catalog.categories) {
    const share = (affinity.get(category) ?? 0) / total;
    result = mode === 'sum' ? result + share : Math.max(result, share);
  }
  return result;
}

function creatorShare(context: FeatureContext, affinity: ReadonlyMap<string, number>): number | undefined {
  const catalog = context.item.catalog;
  if (catalog?.creatorId === undefined) {
    return undefined;
  }
  const total = absoluteSumOf(context, affinity);
  return total === 0 ? 0 : (affinity.get(catalog.creatorId) ?? 0) / total;
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

/** Day-half-life counter field of each interaction type, named once rather than on every row. */
const DAY_COUNT_FIELDS = Object.fromEntries(INTERACTION_TYPES.map((type) => [type, itemTypeField(type, 'day')])) as Record<InteractionType, string>;

function count(item: ItemSnapshot, type: InteractionType): number {
  return item.stats.get(DAY_COUNT_FIELDS[type]) ?? 0;
}

function meanDwell(item: ItemSnapshot): number | undefined {
  const dwellCount = item.stats.get(ITEM_FIELDS.dwellCountDay) ?? 0;
  // Below a tenth of one decayed event, the mean is noise from an old dwell.
  return dwellCount < 0.1 ? undefined : Math.log1p((item.stats.get(ITEM_FIELDS.dwellSecondsDay) ?? 0) / dwellCount);
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
