import type { PlannedWrite } from '@nexttap/features';

/**
 * Online metrics of experiment variants, counted from events attributed to served feeds. The
 * ranker counts each first page it serves in an experiment; ingest counts each event whose
 * `feedId` names such a feed. All keys of one experiment share its hash tag, so one Redis Cluster
 * slot holds them.
 */
export const experimentKeys = {
  /** Hash of counters, fields `<variant>:<counter>`. */
  stats: (experimentId: string) => `x:{${experimentId}}:stats`,
  /** Marks an event as counted, so a redelivered event is counted once. */
  event: (experimentId: string, eventId: string) => `x:{${experimentId}}:event:${eventId}`,
  /** Marks a feed's first tap as counted. */
  firstTap: (experimentId: string, feedId: string) => `x:{${experimentId}}:first-tap:${feedId}`,
} as const;

/** Counters kept for each variant. Dwell is in seconds, positions 0-based. */
export const VARIANT_COUNTERS = [
  'feeds',
  'impressions',
  'taps',
  'skips',
  'tappedFeeds',
  'dwellEvents',
  'dwellSeconds',
  'dwellSecondsSquared',
  'firstTapPositionCount',
  'firstTapPositionSum',
  'firstTapPositionSquared',
] as const;

export type VariantCounter = (typeof VARIANT_COUNTERS)[number];
export type VariantCounts = Record<VariantCounter, number>;

/** How long the counters of an experiment stay after its last write: 90 days. */
export const EXPERIMENT_STATS_TTL_MS = 90 * 86_400_000;
/** How long an event or first-tap marker stays: 1 day, the eventId de-duplication window of ingest. */
export const ATTRIBUTION_MARKER_TTL_MS = 86_400_000;

/** Plans the count of one first page served by a variant. */
export function planFeedServed(experimentId: string, variant: string): PlannedWrite {
  const key = experimentKeys.stats(experimentId);
  return {
    operations: [
      { op: 'hashIncrement', key, field: `${variant}:feeds`, amount: 1 },
      { op: 'expire', key, ttlMs: EXPERIMENT_STATS_TTL_MS },
    ],
  };
}

/**
 * Field of the stats hash that stores the experiment's variants as JSON, so that the report of a
 * stopped experiment still names each variant's model and weight. The name has no `:`, so
 * `parseExperimentStats` skips it.
 */
const VARIANTS_FIELD = 'variants';

/** One variant of an experiment as its stats hash stores it. */
export interface StoredVariant {
  name: string;
  /** Model version, `name@version`. */
  model: string;
  weight: number;
}

/**
 * Plans the write of an experiment's variants beside its counters, with the counters' TTL. It
 * replaces the variants stored by an earlier run with the same id.
 */
export function planExperimentVariants(experimentId: string, variants: readonly StoredVariant[]): PlannedWrite {
  const key = experimentKeys.stats(experimentId);
  const value = JSON.stringify(variants.map(({ name, model, weight }) => ({ name, model, weight })));
  return {
    operations: [
      { op: 'hashSet', key, field: VARIANTS_FIELD, value },
      { op: 'expire', key, ttlMs: EXPERIMENT_STATS_TTL_MS },
    ],
  };
}

/**
 * Reads the variants that `planExperimentVariants` stored in a stats hash, in their configured
 * order. Returns an empty list when the hash has none, as counters written before the variants
 * were stored do, or when the field is not such a list.
 */
export function parseExperimentVariants(fields: Readonly<Record<string, string>>): StoredVariant[] {
  const text = fields[VARIANTS_FIELD];
  if (text === undefined) {
    return [];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  return Array.isArray(parsed) && parsed.every(isStoredVariant) ? parsed : [];
}

function isStoredVariant(value: unknown): value is StoredVariant {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const { name, model, weight } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof model === 'string' && typeof weight === 'number' && Number.isFinite(weight);
}

/** An event attributed to a feed served by an experiment's variant. */
export interface AttributedEvent {
  experimentId: string;
  variant: string;
  eventId: string;
  feedId: string;
  type: string;
  dwellMs?: number | undefined;
  /** Position of the item in the served feed, 0-based, when known. */
  position?: number | undefined;
}

/**
 * Plans the counter updates of one attributed event, once per eventId. A tap also gets a second
 * write, once per feed, that counts the feed as tapped with the tap's position; the caller passes
 * only the first tap of each feed in a batch, because both writes of one batch are checked
 * against the markers before either is set.
 */
export function planAttribution(event: AttributedEvent, firstTapOfFeedInBatch: boolean): PlannedWrite[] {
  const key = experimentKeys.stats(event.experimentId);
  const field = (counter: VariantCounter) => `${event.variant}:${counter}`;
  const operations: PlannedWrite['operations'] = [];
  if (event.type === 'impression') operations.push({ op: 'hashIncrement', key, field: field('impressions'), amount: 1 });
  if (event.type === 'tap') operations.push({ op: 'hashIncrement', key, field: field('taps'), amount: 1 });
  if (event.type === 'skip') operations.push({ op: 'hashIncrement', key, field: field('skips'), amount: 1 });
  if (event.dwellMs !== undefined) {
    const seconds = event.dwellMs / 1000;
    operations.push(
      { op: 'hashIncrement', key, field: field('dwellEvents'), amount: 1 },
      { op: 'hashIncrement', key, field: field('dwellSeconds'), amount: seconds },
      { op: 'hashIncrement', key, field: field('dwellSecondsSquared'), amount: seconds * seconds },
    );
  }
  if (operations.length === 0) {
    return [];
  }
  operations.push({ op: 'expire', key, ttlMs: EXPERIMENT_STATS_TTL_MS });
  const writes: PlannedWrite[] = [
    { dedupKey: experimentKeys.event(event.experimentId, event.eventId), dedupTtlMs: ATTRIBUTION_MARKER_TTL_MS, operations },
  ];
  if (event.type === 'tap' && firstTapOfFeedInBatch) {
    const position = event.position ?? -1;
    writes.push({
      dedupKey: experimentKeys.firstTap(event.experimentId, event.feedId),
      dedupTtlMs: ATTRIBUTION_MARKER_TTL_MS,
      operations: [
        { op: 'hashIncrement', key, field: field('tappedFeeds'), amount: 1 },
        // A tap whose position is unknown counts the feed as tapped but adds no position.
        ...(position >= 0
          ? [
              { op: 'hashIncrement' as const, key, field: field('firstTapPositionSum'), amount: position },
              { op: 'hashIncrement' as const, key, field: field('firstTapPositionSquared'), amount: position * position },
              { op: 'hashIncrement' as const, key, field: field('firstTapPositionCount'), amount: 1 },
            ]
          : []),
        { op: 'expire', key, ttlMs: EXPERIMENT_STATS_TTL_MS },
      ],
    });
  }
  return writes;
}

/** Splits a stats hash into counts per variant; missing counters are 0. */
export function parseExperimentStats(fields: Readonly<Record<string, string>>): Map<string, VariantCounts> {
  const variants = new Map<string, VariantCounts>();
  for (const [field, text] of Object.entries(fields)) {
    const separator = field.lastIndexOf(':');
    if (separator <= 0) continue;
    const variant = field.slice(0, separator);
    const counter = field.slice(separator + 1);
    let counts = variants.get(variant);
    if (counts === undefined) {
      counts = Object.fromEntries(VARIANT_COUNTERS.map((name) => [name, 0])) as VariantCounts;
      variants.set(variant, counts);
    }
    if ((VARIANT_COUNTERS as readonly string[]).includes(counter)) {
      counts[counter as VariantCounter] = Number(text) || 0;
    }
  }
  return variants;
}
