import { REPLAY_ERROR_CODES, ReplayError } from './errors';
import type { RankerDescription } from './point-log';

/** The first event time a replay evaluates, and what set it. */
export interface EvaluationWindow {
  /** Events at or after this time (epoch ms) are evaluated; null evaluates every event. */
  startMs: number | null;
  source: string;
}

/**
 * Resolves where evaluation starts. Each model's training cut-off must be honoured, because the
 * events before it trained the model. With several models the latest cut-off applies to all, so
 * that every ranker is scored on the same points. An explicit `cutoffMs` may move the start later
 * but not earlier.
 *
 * @throws ReplayError `REPLAY_ERR_INVALID_OPTION` when `cutoffMs` is before a model's training cut-off
 */
export function resolveEvaluationWindow(rankers: readonly RankerDescription[], cutoffMs: number | undefined): EvaluationWindow {
  let latest: { ms: number; name: string } | undefined;
  for (const ranker of rankers) {
    const trainingCutoffMs = ranker.model?.trainingCutoffMs;
    if (trainingCutoffMs !== undefined && trainingCutoffMs !== null && (latest === undefined || trainingCutoffMs > latest.ms)) {
      latest = { ms: trainingCutoffMs, name: ranker.name };
    }
  }
  if (cutoffMs !== undefined) {
    if (latest !== undefined && cutoffMs < latest.ms) {
      throw new ReplayError(
        REPLAY_ERROR_CODES.invalidOption,
        `cutoff ${new Date(cutoffMs).toISOString()} is before the training cut-off ${new Date(latest.ms).toISOString()} of model ${latest.name}; ` +
          'earlier events trained the model, so pass a later time or leave it out',
      );
    }
    return { startMs: cutoffMs, source: 'the cutoff option' };
  }
  if (latest !== undefined) {
    return { startMs: latest.ms, source: `training cut-off of ${latest.name}` };
  }
  return { startMs: null, source: 'none: no model names a training cut-off' };
}
