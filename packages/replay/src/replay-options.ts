import type { RankingModel } from '@nexttap/model';
import { DEFAULT_RANKING_DEPTH } from '@nexttap/rank';
import type { FeatureStore } from '@nexttap/store';
import { REPLAY_ERROR_CODES, ReplayError } from './errors';
import type { Protocol } from './evaluator';
import type { RankerResult } from './point-log';
import { BASELINE_NAMES, DEFAULT_BASELINES, type BaselineName } from './rankers';
import type { ReplayInput } from './sources/replay-input';

/** Progress of a running replay, reported every `progressEvents` events and once at the end. */
export interface ReplayProgress {
  events: number;
  totalEvents: number;
  points: number;
  elapsedMs: number;
}

/** Options of `runReplay`. Everything but `input` has a default. */
export interface ReplayOptions {
  input: ReplayInput;
  /** Loaded models, evaluated on the same points as the baselines. Default none. */
  models?: readonly RankingModel[];
  /** Default `popular`, `trending`, `covisit` and `random`. */
  baselines?: readonly BaselineName[];
  /** `full` ranks the generated candidates, `sampled` the target among sampled negatives. Default `full`. */
  protocol?: Protocol;
  /** Negatives per target under the sampled protocol. Default 100. */
  negatives?: number;
  /** Seed of every random choice. Default 1. */
  seed?: number;
  /** Cut-offs of the top-K metrics, ascending. Default 5, 10, 20. */
  ks?: readonly number[];
  /** First event time evaluated, in epoch ms; at or after every model's training cut-off. Default: the latest cut-off. */
  cutoffMs?: number;
  /** Events between two refreshes of the candidate pools. Default 1000, as when the model was trained. */
  poolRefreshEvents?: number;
  /** Bootstrap resamples of every interval. Default 1000. */
  bootstrapResamples?: number;
  /** Coverage of the intervals. Default 0.95. */
  confidenceLevel?: number;
  /** Creates the feature store from the replay's clock. Default: a `MemoryFeatureStore` on that clock. The replay closes it. */
  createStore?: (now: () => number) => FeatureStore;
  /** Store recorded as `settings.store` in the report. Default `memory` without `createStore`, else none. */
  storeKind?: StoreKind;
  onProgress?: (progress: ReplayProgress) => void;
  /** Called after each evaluation point with every ranker's result, for inspection and tests. */
  onPoint?: (point: EvaluatedPoint) => void;
  /** Events between two `onProgress` calls. Default 5000. */
  progressEvents?: number;
}

/** One evaluated point as `onPoint` receives it. */
export interface EvaluatedPoint {
  key: string;
  tMs: number;
  targetItemId: string;
  /** Per ranker, in report order: the rank of the target and the first items of its ranking. */
  results: readonly RankerResult[];
}

/** Feature stores a report can name in `settings.store`. */
export type StoreKind = 'memory' | 'redis';

type CallbackOption = 'cutoffMs' | 'createStore' | 'storeKind' | 'onProgress' | 'onPoint';

export type ResolvedReplayOptions = Required<Omit<ReplayOptions, CallbackOption>> & Pick<ReplayOptions, CallbackOption>;

/** Interaction types that make an evaluation point: engagement the next feed should have led to. */
export const TARGET_TYPES: ReadonlySet<string> = new Set(['tap', 'play', 'complete', 'like']);

/**
 * Applies the defaults and checks every option.
 *
 * @throws ReplayError `REPLAY_ERR_INVALID_OPTION` naming the first invalid option
 */
/** Largest cut-off K: the replay ranks the first `DEFAULT_RANKING_DEPTH` items, so a larger K measures nothing more. */
export const MAX_K = DEFAULT_RANKING_DEPTH;

/** Largest seed: the seeded hashes and generators read the seed as an unsigned 32-bit integer. */
export const MAX_SEED = 0xffff_ffff;

export function resolveReplayOptions(options: ReplayOptions): ResolvedReplayOptions {
  const resolved: ResolvedReplayOptions = {
    ...options,
    models: options.models ?? [],
    baselines: options.baselines ?? DEFAULT_BASELINES,
    protocol: options.protocol ?? 'full',
    negatives: options.negatives ?? 100,
    seed: options.seed ?? 1,
    ks: options.ks ?? [5, 10, 20],
    poolRefreshEvents: options.poolRefreshEvents ?? 1_000,
    bootstrapResamples: options.bootstrapResamples ?? 1_000,
    confidenceLevel: options.confidenceLevel ?? 0.95,
    progressEvents: options.progressEvents ?? 5_000,
  };
  for (const name of ['negatives', 'poolRefreshEvents', 'bootstrapResamples', 'progressEvents'] as const) {
    requirePositiveInteger(name, resolved[name]);
  }
  if (!Number.isSafeInteger(resolved.seed) || resolved.seed < 0 || resolved.seed > MAX_SEED) {
    throw invalid(`seed ${resolved.seed} is invalid; pass an integer from 0 to ${MAX_SEED}`);
  }
  if (
    resolved.ks.length === 0 ||
    resolved.ks.some((k, index) => !Number.isSafeInteger(k) || k < 1 || k > MAX_K || (index > 0 && k <= (resolved.ks[index - 1] as number)))
  ) {
    throw invalid(`ks ${resolved.ks.join(',')} is invalid; pass integers from 1 to ${MAX_K} in ascending order, such as 5,10,20`);
  }
  if (!(resolved.confidenceLevel > 0 && resolved.confidenceLevel < 1)) {
    throw invalid(`confidenceLevel ${resolved.confidenceLevel} is invalid; pass a number between 0 and 1, such as 0.95`);
  }
  if (resolved.protocol !== 'full' && resolved.protocol !== 'sampled') {
    throw invalid(`protocol ${String(resolved.protocol)} is invalid; pass full or sampled`);
  }
  const unknown = resolved.baselines.filter((name) => !BASELINE_NAMES.includes(name));
  if (unknown.length > 0) {
    throw invalid(`baselines ${unknown.join(',')} are unknown; pass any of ${BASELINE_NAMES.join(', ')}`);
  }
  if (resolved.models.length + resolved.baselines.length === 0) {
    throw invalid('there is nothing to evaluate; pass a model or a baseline');
  }
  return resolved;
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${name} ${value} is invalid; pass a positive integer`);
  }
}

function invalid(message: string): ReplayError {
  return new ReplayError(REPLAY_ERROR_CODES.invalidOption, message);
}
