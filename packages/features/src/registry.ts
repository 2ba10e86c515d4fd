import type { CatalogItem } from '@nexttap/events';
import type { ItemSnapshot, SessionSnapshot, UserSnapshot } from './snapshots';

const DAY_MS = 86_400_000;

/** Everything a feature may look at when it scores one candidate for one request. */
export interface FeatureContext {
  session: SessionSnapshot;
  user: UserSnapshot | undefined;
  item: ItemSnapshot;
  nowMs: number;
}

/** A feature the ranker can compute: the single source for feature matrices, manifests and docs. */
export interface FeatureDefinition {
  name: string;
  type: 'float32';
  /** Value used when the inputs are missing, e.g. an unknown item or an anonymous user. */
  defaultValue: number;
  description: string;
  compute(context: FeatureContext): number | undefined;
}

export const FEATURE_REGISTRY: readonly FeatureDefinition[] = [
  {
    name: 'item_popularity_long',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + engagements with the item), decayed with a 7-day half-life',
    compute: ({ item }) => Math.log1p(Math.max(0, item.positiveLong)),
  },
  {
    name: 'item_popularity_short',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + engagements with the item), decayed with a 1-hour half-life',
    compute: ({ item }) => Math.log1p(Math.max(0, item.positiveShort)),
  },
  {
    name: 'item_tap_rate',
    type: 'float32',
    defaultValue: 0.1,
    description: 'taps per impression, smoothed towards 0.1 with the weight of 10 impressions (7-day half-life)',
    compute: ({ item }) => (item.taps + 1) / (item.impressions + 10),
  },
  {
    name: 'item_like_rate',
    type: 'float32',
    defaultValue: 0.5,
    description: 'likes per interaction, smoothed with a uniform Beta(1, 1) prior (7-day half-life)',
    compute: ({ item }) => (item.likes + 1) / (item.interactions + 2),
  },
  {
    name: 'item_age_days',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + days since the item was published); the default when the catalog has no publishedAt',
    compute: ({ item, nowMs }) =>
      item.catalog?.publishedAt === undefined ? undefined : Math.log1p(Math.max(0, nowMs - item.catalog.publishedAt) / DAY_MS),
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
    compute: ({ session, item }) => affinityShare(session.categoryAffinity, item.catalog, 'sum'),
  },
  {
    name: 'session_category_max',
    type: 'float32',
    defaultValue: 0,
    description: "largest session affinity share among the item's categories",
    compute: ({ session, item }) => affinityShare(session.categoryAffinity, item.catalog, 'max'),
  },
  {
    name: 'user_category_affinity',
    type: 'float32',
    defaultValue: 0,
    description: "sum over the item's categories of the user's long-term affinity share (30-day half-life)",
    compute: ({ user, item }) => (user === undefined ? undefined : affinityShare(user.categoryAffinity, item.catalog, 'sum')),
  },
  {
    name: 'session_event_count',
    type: 'float32',
    defaultValue: 0,
    description: 'log(1 + events in the session so far)',
    compute: ({ session }) => Math.log1p(session.events),
  },
  {
    name: 'session_seconds_since_last',
    type: 'float32',
    defaultValue: 0,
    description: "log(1 + seconds since the session's latest event); the default for a new session",
    compute: ({ session, nowMs }) => (session.lastTs === undefined ? undefined : Math.log1p(Math.max(0, nowMs - session.lastTs) / 1000)),
  },
  {
    name: 'user_known',
    type: 'float32',
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
 * Returns the affinity share of an item's categories: each category's affinity divided by the sum
 * of absolute affinities, so sessions of any length give values in [-1, 1].
 */
function affinityShare(affinity: Map<string, number>, catalog: CatalogItem | undefined, mode: 'sum' | 'max'): number | undefined {
  if (catalog === undefined || catalog.categories.length === 0) {
    return undefined;
  }
  let total = 0;
  for (const value of affinity.values()) {
    total += Math.abs(value);
  }
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
