import type { Interval } from './bootstrap';
import { normaliseNumbers } from './build-report';
import type { PointLog } from './point-log';

export const TIMINGS_SCHEMA = 'nexttap.replay.timings';
export const TIMINGS_SCHEMA_VERSION = 1;

/** Wall-clock figures of one replay, `timings.json`: they vary between runs, so they stay out of the report. */
export interface ReplayTimings {
  schema: typeof TIMINGS_SCHEMA;
  schemaVersion: number;
  /** From the first event applied to the last point evaluated, in ms; reading the input is not included. */
  replayMs: number;
  events: number;
  eventsPerSecond: number;
  /** Per evaluation point, shared by every ranker: the session read, candidate generation and item feature reads. */
  candidates: LatencySummary;
  /** Per evaluation point and ranker: scoring (for a model, the feature matrix and one ONNX run) and ordering. */
  rankers: Array<{ name: string } & LatencySummary>;
}

export interface LatencySummary {
  meanMs: Interval;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** Returns the latency columns whose means `buildTimings` takes: the candidates', then each ranker's. */
export function timingColumns(points: PointLog, candidateLatencyMs: readonly number[]): Float64Array[] {
  return [Float64Array.from(candidateLatencyMs), ...points.rankers.map((_, rankerIndex) => Float64Array.from(points.latencyOf(rankerIndex)))];
}

/**
 * Summarises the latencies the replay measured. `means` are the bootstrap intervals of
 * `timingColumns(points, candidateLatencyMs)`, in that order.
 */
export function buildTimings(points: PointLog, candidateLatencyMs: readonly number[], run: { replayMs: number; events: number }, means: readonly Interval[]): ReplayTimings {
  const columns = timingColumns(points, candidateLatencyMs);
  const summaries = columns.map((column, index) => summarise(column, means[index] as Interval));
  return normaliseNumbers({
    schema: TIMINGS_SCHEMA,
    schemaVersion: TIMINGS_SCHEMA_VERSION,
    replayMs: run.replayMs,
    events: run.events,
    eventsPerSecond: run.replayMs === 0 ? 0 : Math.round((run.events * 1000) / run.replayMs),
    candidates: summaries[0] as LatencySummary,
    rankers: points.rankers.map((ranker, rankerIndex) => ({ name: ranker.name, ...(summaries[rankerIndex + 1] as LatencySummary) })),
  });
}

function summarise(latencyMs: Float64Array, meanMs: Interval): LatencySummary {
  const sorted = latencyMs.slice().sort();
  return { meanMs, p50Ms: quantile(sorted, 0.5), p95Ms: quantile(sorted, 0.95), p99Ms: quantile(sorted, 0.99) };
}

/** Nearest-rank quantile of sorted values; null without values. */
function quantile(sorted: Float64Array, level: number): number | null {
  if (sorted.length === 0) {
    return null;
  }
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(level * sorted.length))) - 1] as number;
}
