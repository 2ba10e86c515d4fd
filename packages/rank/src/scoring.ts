import { buildFeatureMatrix, type FeatureMatrix, type ItemSnapshot, type SessionSnapshot, type UserSnapshot } from '@nexttap/features';
import type { RankingModel } from '@nexttap/model';

/** Outcome of the model's scoring of one batch. */
export type ScoreOutcome = 'model' | 'model-non-finite' | 'model-failed';

export interface ScoredBatch {
  scores: Float64Array;
  outcome: ScoreOutcome;
  /** The model's error when the run failed. */
  error?: unknown;
  matrix: FeatureMatrix;
}

/**
 * Scores items with the model in one run. A non-finite score is replaced by the heuristic score of
 * that item (`model-non-finite`), and a failed run by the heuristic score of every item
 * (`model-failed`), so that no NaN or Infinity reaches a client.
 */
export async function scoreItems(
  model: RankingModel,
  session: SessionSnapshot,
  user: UserSnapshot | undefined,
  items: readonly ItemSnapshot[],
  nowMs: number,
): Promise<ScoredBatch> {
  const matrix = buildFeatureMatrix(model.features, session, user, items, nowMs);
  const scores = new Float64Array(items.length);
  if (items.length === 0) {
    return { scores, outcome: 'model', matrix };
  }
  let modelScores: Float32Array;
  try {
    modelScores = await model.score(matrix);
  } catch (error) {
    items.forEach((item, index) => {
      scores[index] = heuristicScore(item, session);
    });
    return { scores, outcome: 'model-failed', error, matrix };
  }
  let outcome: ScoreOutcome = 'model';
  items.forEach((item, index) => {
    const score = modelScores[index];
    if (score === undefined || !Number.isFinite(score)) {
      outcome = 'model-non-finite';
      scores[index] = heuristicScore(item, session);
    } else {
      scores[index] = score;
    }
  });
  return { scores, outcome, matrix };
}

/**
 * Scores an item without a model: log(1 + decayed engagements) over 7 days, lifted by the
 * session's positive affinity to the item's categories, squashed into [0, 1) by x / (1 + x).
 */
export function heuristicScore(item: ItemSnapshot, session: SessionSnapshot): number {
  let affinity = 0;
  for (const category of item.catalog?.categories ?? []) {
    affinity += Math.max(0, session.categoryAffinity.get(category) ?? 0);
  }
  const raw = Math.log1p(Math.max(0, item.positiveLong)) * (1 + Math.log1p(affinity));
  return raw / (1 + raw);
}
