import { performance } from 'node:perf_hooks';
import type { FeatureDefinition, FeatureMatrix } from '@nexttap/features';
import type { RankingModel, SharedModel } from '@nexttap/model';
import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Logger, type Registry } from '@nexttap/observability';
import { kendallTau, topKOverlap } from './rank-agreement';

/** Buckets of Kendall's tau, from −1 to 1 in steps of 0.1. */
const TAU_BUCKETS = Array.from({ length: 21 }, (_, index) => Math.round((index / 10 - 1) * 10) / 10);
/** Buckets of the top-K overlap, from 0 to 1 in steps of 0.1. */
const OVERLAP_BUCKETS = Array.from({ length: 11 }, (_, index) => index / 10);

/** One feed's shadow run: the model to rank with, and `finish` to call once the response is built. */
export interface ShadowRun {
  /** The serving model, wrapped so that its scoring run also keeps the rows for the shadow model. */
  model: RankingModel;
  /** Queues the shadow scoring after the current I/O phase (setImmediate); call exactly once. */
  finish(): void;
}

/**
 * Scores each feed's candidates with a shadow model after the response is sent, and records how
 * far its ranking agrees with the serving model's (Kendall's tau-b, top-K overlap) and its latency.
 * The shadow reuses the feature rows of the serving model's run, so it costs no store reads; the
 * serving model computes the union of both models' features and scores its own columns.
 */
export class ShadowScorer {
  private pending = 0;
  private readonly tau: Histogram<'shadow'>;
  private readonly overlap: Histogram<'shadow'>;
  private readonly duration: Histogram<'shadow'>;
  private readonly dropped: Counter<'shadow'>;
  private readonly failures: Counter<'shadow'>;

  constructor(
    registry: Registry,
    private readonly options: { maxPending: number; topK: number; logger: Logger },
  ) {
    const registers = [registry];
    this.tau = new Histogram({
      name: 'nexttap_shadow_kendall_tau',
      help: "Kendall's tau-b between the shadow model's and the serving model's scores of one feed's candidates, by shadow model (name@version)",
      labelNames: ['shadow'],
      buckets: TAU_BUCKETS,
      registers,
    });
    this.overlap = new Histogram({
      name: 'nexttap_shadow_top_k_overlap',
      help: "Share of the serving model's top K candidates (SHADOW_TOP_K) that are also in the shadow model's top K, by shadow model (name@version)",
      labelNames: ['shadow'],
      buckets: OVERLAP_BUCKETS,
      registers,
    });
    this.duration = new Histogram({
      name: 'nexttap_shadow_duration_seconds',
      help: "Time of one shadow model run over a feed's candidates, in seconds, by shadow model (name@version)",
      labelNames: ['shadow'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.dropped = new Counter({
      name: 'nexttap_shadow_dropped_total',
      help: 'Feeds not shadow-scored because SHADOW_MAX_PENDING runs were waiting, by shadow model (name@version)',
      labelNames: ['shadow'],
      registers,
    });
    this.failures = new Counter({
      name: 'nexttap_shadow_failures_total',
      help: 'Shadow model runs that failed or returned non-finite scores, by shadow model (name@version)',
      labelNames: ['shadow'],
      registers,
    });
  }

  /** Jobs queued or running now. */
  get pendingRuns(): number {
    return this.pending;
  }

  /**
   * Starts a shadow run for one feed. `shadow` was acquired by the caller; `finish` releases it,
   * after the shadow scoring or at once when there is nothing to score or the queue is full.
   */
  begin(serving: RankingModel, shadow: SharedModel): ShadowRun {
    const label = `${shadow.model.manifest.name}@${shadow.model.manifest.version}`;
    const capture = captureRows(serving, shadow.model.features);
    let finished = false;
    return {
      model: capture.model,
      finish: () => {
        if (finished) {
          return;
        }
        finished = true;
        const rows = capture.captured();
        if (rows === undefined || rows.matrix.rows === 0) {
          shadow.release();
          return;
        }
        if (this.pending >= this.options.maxPending) {
          this.dropped.inc({ shadow: label });
          shadow.release();
          return;
        }
        this.pending += 1;
        setImmediate(() => {
          void this.score(shadow, label, rows.matrix, rows.servingScores).finally(() => {
            this.pending -= 1;
            shadow.release();
          });
        });
      },
    };
  }

  private async score(shadow: SharedModel, label: string, matrix: FeatureMatrix, servingScores: Float32Array): Promise<void> {
    const startedAt = performance.now();
    let shadowScores: Float32Array;
    try {
      shadowScores = await shadow.model.score(selectColumns(matrix, shadow.model.features));
    } catch (error) {
      this.failures.inc({ shadow: label });
      this.options.logger.warn({ err: error, shadow: label }, 'shadow model run failed');
      return;
    }
    this.duration.observe({ shadow: label }, (performance.now() - startedAt) / 1000);
    if (shadowScores.some((score) => !Number.isFinite(score))) {
      this.failures.inc({ shadow: label });
      return;
    }
    const tau = kendallTau(servingScores, shadowScores);
    if (tau !== undefined) {
      this.tau.observe({ shadow: label }, tau);
    }
    const overlap = topKOverlap(servingScores, shadowScores, this.options.topK);
    if (overlap !== undefined) {
      this.overlap.observe({ shadow: label }, overlap);
    }
  }
}

/**
 * Wraps `serving` so that it reads the union of its own and `extra` features, scores its own
 * columns, and keeps the first run's rows and scores (the candidates' run; later runs, such as
 * explanations, are not kept).
 */
function captureRows(serving: RankingModel, extra: readonly FeatureDefinition[]) {
  const names = new Set(serving.features.map((feature) => feature.name));
  const features = [...serving.features, ...extra.filter((feature) => !names.has(feature.name))];
  let captured: { matrix: FeatureMatrix; servingScores: Float32Array } | undefined;
  const model: RankingModel = {
    manifest: serving.manifest,
    features,
    async score(matrix) {
      const scores = await serving.score(selectColumns(matrix, serving.features));
      captured ??= { matrix, servingScores: scores };
      return scores;
    },
    release: () => serving.release(),
  };
  return { model, captured: () => captured };
}

/** Copies the columns of `features`, in their order, out of a matrix that contains them all. */
function selectColumns(matrix: FeatureMatrix, features: readonly FeatureDefinition[]): FeatureMatrix {
  const indices = features.map((feature) => matrix.featureNames.indexOf(feature.name));
  if (indices.every((column, index) => column === index) && indices.length === matrix.columns) {
    return matrix;
  }
  const data = new Float32Array(matrix.rows * indices.length);
  for (let row = 0; row < matrix.rows; row++) {
    for (const [target, source] of indices.entries()) {
      data[row * indices.length + target] = matrix.data[row * matrix.columns + source] as number;
    }
  }
  return { data, rows: matrix.rows, columns: indices.length, featureNames: features.map((feature) => feature.name) };
}
