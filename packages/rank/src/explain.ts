import type { FeatureMatrix } from '@nexttap/features';
import type { RankingModel } from '@nexttap/model';

/** How much one feature moved an item's score, and the value it had. */
export interface FeatureContribution {
  feature: string;
  value: number;
  /** Score with the feature's actual value minus the score with the feature at its default. */
  contribution: number;
}

/**
 * Explains scores by ablation: for each row and feature, the row is scored again with that feature
 * set to its registry default, and the difference is the feature's contribution. The rows and all
 * their ablated copies go into one extra model run (rows × (features + 1) rows). Returns, per row,
 * the `top` contributions by absolute size. Features already at their default contribute nothing
 * and are left out, and so is a contribution that is not finite.
 */
export async function explainScores(model: RankingModel, matrix: FeatureMatrix, top: number): Promise<FeatureContribution[][]> {
  const { rows, columns, data } = matrix;
  if (rows === 0) {
    return [];
  }
  // Layout: the original rows first, then for row r and column c the copy at rows + r·columns + c.
  const batch = new Float32Array(rows * (columns + 1) * columns);
  batch.set(data.subarray(0, rows * columns), 0);
  for (let row = 0; row < rows; row++) {
    const source = data.subarray(row * columns, (row + 1) * columns);
    for (let column = 0; column < columns; column++) {
      const offset = (rows + row * columns + column) * columns;
      batch.set(source, offset);
      batch[offset + column] = model.features[column]?.defaultValue ?? 0;
    }
  }
  const scores = await model.score({ data: batch, rows: rows * (columns + 1), columns, featureNames: matrix.featureNames });
  const explanations: FeatureContribution[][] = [];
  for (let row = 0; row < rows; row++) {
    const contributions: FeatureContribution[] = [];
    for (let column = 0; column < columns; column++) {
      const value = data[row * columns + column] ?? 0;
      const feature = model.features[column];
      if (feature === undefined || value === Math.fround(feature.defaultValue)) {
        continue;
      }
      const contribution = (scores[row] ?? 0) - (scores[rows + row * columns + column] ?? 0);
      if (Number.isFinite(contribution)) {
        contributions.push({ feature: feature.name, value, contribution });
      }
    }
    contributions.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    explanations.push(contributions.slice(0, top));
  }
  return explanations;
}
