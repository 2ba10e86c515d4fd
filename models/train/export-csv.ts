import type { ExampleRows, TrainingSet } from './build-training-set';

/** Columns before the features in the exported CSV. */
export const CSV_LEADING_COLUMNS = ['split', 'anchor', 'anchor_ts_ms', 'target_among_candidates', 'item_id', 'label'] as const;

/**
 * Formats the labelled rows of a training set as CSV for training outside nexttap (the notebook
 * path). After a header line, each row has the split, the anchor's index and time, whether
 * candidate generation proposed the anchor's liked item, the item and the label. The raw feature
 * values follow in `set.featureNames` order, which a model's manifest must list as its features.
 */
export function formatTrainingCsv(set: TrainingSet): string {
  const lines = [[...CSV_LEADING_COLUMNS, ...set.featureNames].join(',')];
  appendRows(lines, set, set.train, 'train');
  appendRows(lines, set, set.validation, 'validation');
  return `${lines.join('\n')}\n`;
}

function appendRows(lines: string[], set: TrainingSet, rows: ExampleRows, split: 'train' | 'validation'): void {
  const columns = set.featureNames.length;
  for (let row = 0; row < rows.rows; row++) {
    const anchorIndex = rows.anchorIndices[row] as number;
    const anchor = set.anchors[anchorIndex];
    const values = Array.from(rows.features.subarray(row * columns, (row + 1) * columns), (value) => String(value));
    lines.push(
      [split, anchorIndex, anchor?.tsMs ?? '', anchor?.targetAmongCandidates ? 1 : 0, quote(rows.itemIds[row] ?? ''), rows.labels[row], ...values].join(','),
    );
  }
}

/** Quotes a CSV field that contains a comma, a quote or a line break (RFC 4180). */
function quote(field: string): string {
  return /[",\n\r]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}
