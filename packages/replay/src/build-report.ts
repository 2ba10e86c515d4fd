import type { Interval } from './bootstrap';
import { catalogueCoverage } from './coverage';
import { hitAtK, ndcgAtK, reciprocalRank } from './metrics';
import type { PointLog } from './point-log';
import { REPORT_SCHEMA, REPORT_SCHEMA_VERSION, type OffPolicyReport, type RankerReport, type ReplayReport } from './report-schema';
import type { RejectedRecords, SourceDescription } from './sources/replay-input';

/** Everything of a finished replay that the report needs besides the points. */
export interface ReportInput {
  points: PointLog;
  settings: ReplayReport['settings'];
  source: SourceDescription;
  window: ReplayReport['window'];
  counts: ReplayReport['counts'];
  /** Items a ranking could hold, the denominator of coverage: see `ReplayRun.buildReport`. */
  catalogSize: number;
  offPolicy: OffPolicyReport;
  rejected: RejectedRecords;
}

/** Buckets of the metrics-over-time series; each holds an equal share of the points. */
const TIME_BUCKETS = 10;

/**
 * Returns the columns whose means the report bootstraps: whether the candidates contained the
 * target, then each ranker's columns in `rankerColumns` order. `buildReport` takes their intervals
 * in this order.
 */
export function reportColumns(points: PointLog): Float64Array[] {
  return [Float64Array.from(points.targetRetrieved), ...points.rankers.flatMap((_, rankerIndex) => rankerColumns(points, rankerIndex))];
}

/**
 * Builds the report from a finished replay. `intervals` are the bootstrap intervals of
 * `reportColumns(input.points)`, in that order, all from the same seeded resamples.
 */
export function buildReport(input: ReportInput, intervals: readonly Interval[]): ReplayReport {
  const { points, settings } = input;
  const columnsPerRanker = rankerColumnCount(points.ks);
  const targetRetrievedRate = intervals[0] as Interval;
  let offset = 1;
  const rankers = points.rankers.map((ranker, rankerIndex): RankerReport => {
    const rankerIntervals = intervals.slice(offset, offset + columnsPerRanker);
    offset += rankerIntervals.length;
    return {
      name: ranker.name,
      kind: ranker.kind,
      ...(ranker.model === undefined ? {} : { model: ranker.model }),
      metrics: rankerMetrics(points, rankerIndex, rankerIntervals, input.catalogSize),
    };
  });
  const report: ReplayReport = {
    schema: REPORT_SCHEMA,
    schemaVersion: REPORT_SCHEMA_VERSION,
    settings,
    source: { ...input.source },
    window: input.window,
    counts: input.counts,
    candidates: {
      meanCount: points.size === 0 ? null : average(points.candidateCounts),
      targetRetrievedRate,
      ...(settings.protocol === 'sampled' ? { meanNegatives: meanNegatives(points) } : {}),
    },
    rankers,
    overTime: overTime(points, middleK(settings.ks)),
    offPolicy: input.offPolicy,
    rejected: input.rejected,
    evaluations: {
      keys: [...points.keys],
      ranks: Object.fromEntries(points.rankers.map((ranker, rankerIndex) => [ranker.name, [...points.ranksOf(rankerIndex)]])),
    },
  };
  return normaliseNumbers(report);
}

/**
 * Returns the mean number of negatives per point under the sampled protocol, or null without
 * points. A point's candidates are its sampled negatives and the target, when the feed rules kept
 * the target.
 */
function meanNegatives(points: PointLog): number | null {
  if (points.size === 0) {
    return null;
  }
  const negatives = points.candidateCounts.map((count, index) => count - (points.targetRetrieved[index] ?? 0));
  return average(negatives);
}

/** Per-point columns of one ranker: HitRate@K and NDCG@K for each K, MRR, then novelty@K and diversity@K for each K. */
/** Columns per ranker in `rankerColumns`: hit rate, NDCG, novelty and diversity per K, and MRR. */
function rankerColumnCount(ks: readonly number[]): number {
  return 4 * ks.length + 1;
}

function rankerColumns(points: PointLog, rankerIndex: number): Float64Array[] {
  const ks = points.ks;
  const ranks = points.ranksOf(rankerIndex);
  return [
    ...ks.map((k) => Float64Array.from(ranks, (rank) => hitAtK(rank, k))),
    ...ks.map((k) => Float64Array.from(ranks, (rank) => ndcgAtK(rank, k))),
    Float64Array.from(ranks, (rank) => reciprocalRank(rank)),
    ...ks.map((_, kIndex) => Float64Array.from(points.noveltyOf(rankerIndex, kIndex))),
    ...ks.map((_, kIndex) => Float64Array.from(points.diversityOf(rankerIndex, kIndex))),
  ];
}

/** Arranges one ranker's intervals, in `rankerColumns` order, by metric and K. */
function rankerMetrics(points: PointLog, rankerIndex: number, intervals: readonly Interval[], catalogSize: number): RankerReport['metrics'] {
  const ks = points.ks;
  const slice = (start: number) => Object.fromEntries(ks.map((k, kIndex) => [String(k), intervals[start + kIndex] as Interval]));
  const lists = points.topListsOf(rankerIndex);
  return {
    hitRate: slice(0),
    ndcg: slice(ks.length),
    mrr: intervals[2 * ks.length] as Interval,
    coverage: Object.fromEntries(ks.map((k) => [String(k), { value: catalogueCoverage(lists, k, catalogSize), low: Number.NaN, high: Number.NaN }])),
    novelty: slice(2 * ks.length + 1),
    diversity: slice(3 * ks.length + 1),
  };
}

/** Returns the K in the middle of the list, the one the summary and the time series use. */
export function middleK(ks: readonly number[]): number {
  return ks[Math.floor((ks.length - 1) / 2)] ?? 10;
}

/** HitRate@K per ranker over consecutive buckets of an equal number of points, in time order. */
function overTime(points: PointLog, k: number): ReplayReport['overTime'] {
  const buckets: ReplayReport['overTime']['buckets'] = [];
  const count = Math.min(TIME_BUCKETS, points.size);
  for (let bucket = 0; bucket < count; bucket++) {
    const start = Math.floor((bucket * points.size) / count);
    const end = Math.floor(((bucket + 1) * points.size) / count);
    const hitRate = Object.fromEntries(
      points.rankers.map((ranker, rankerIndex) => {
        const ranks = points.ranksOf(rankerIndex).slice(start, end);
        return [ranker.name, average(ranks.map((rank) => hitAtK(rank, k)))];
      }),
    );
    buckets.push({ fromMs: points.timesMs[start] as number, toMs: points.timesMs[end - 1] as number, points: end - start, hitRate });
  }
  return { k, buckets };
}

function average(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length;
}

/**
 * Rounds every fractional number to 6 decimals and turns NaN and infinities into null, so the
 * report reads well and an undefined metric stays valid JSON. Integers are left as they are.
 */
export function normaliseNumbers<T>(value: T): T {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      return null as T;
    }
    return (Number.isInteger(value) ? value : Math.round(value * 1e6) / 1e6) as T;
  }
  if (Array.isArray(value)) {
    return value.map((entry: unknown) => normaliseNumbers(entry)) as T;
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, normaliseNumbers(entry)])) as T;
  }
  return value;
}
