import type { ItemColumns } from './item-columns';
import { findFeature, type FeatureContext, type FeatureDefinition } from './registry';
import { itemColumnsOf, type ItemSnapshot, type SessionSnapshot, type UserSnapshot } from './snapshots';

/** A row-major float32 matrix of candidates × features, the input layout of a ranking model. */
export interface FeatureMatrix {
  data: Float32Array;
  rows: number;
  columns: number;
  featureNames: readonly string[];
}

/** Resolves feature names to definitions, throwing with the first unknown name. */
export function resolveFeatures(featureNames: readonly string[]): FeatureDefinition[] {
  return featureNames.map((name) => {
    const feature = findFeature(name);
    if (feature === undefined) {
      throw new Error(`feature ${name} is not produced by the feature code; use a name from the feature registry`);
    }
    return feature;
  });
}

/**
 * Kernel inputs and column values kept from one matrix build to the next. A build runs
 * synchronously and keeps no reference to them, so one build never reads another's values, and a
 * feed saves allocating about 40 KB of typed arrays (200 candidates).
 */
let reusedColumns: ItemColumns | undefined;
let reusedColumnValues = new Float64Array(0);

/**
 * Builds the feature matrix of candidates for one session at `nowMs`. A feature whose inputs are
 * missing, or that computes a non-finite value, gets its registry default.
 */
export function buildFeatureMatrix(
  features: readonly FeatureDefinition[],
  session: SessionSnapshot,
  user: UserSnapshot | undefined,
  items: readonly ItemSnapshot[],
  nowMs: number,
): FeatureMatrix {
  const columns = features.length;
  const data = new Float32Array(items.length * columns);
  // One context object serves every cell: features read it during `compute` and keep no
  // reference. Filling column by column keeps one feature's code hot across the rows. The rows
  // share the session and user, so their affinity sums are computed once.
  const context: FeatureContext = { session, user, item: items[0] as ItemSnapshot, nowMs, affinityTotals: new Map() };
  if (reusedColumnValues.length < items.length) {
    reusedColumnValues = new Float64Array(items.length);
  }
  const columnValues = reusedColumnValues;
  // The kernels' inputs, read from the snapshots once for every column that has a kernel.
  let itemColumns: ItemColumns | undefined;
  for (let column = 0; column < columns; column++) {
    const feature = features[column] as FeatureDefinition;
    const defaultValue = feature.defaultValue;
    if (feature.perRequest === true) {
      const value = items.length === 0 ? undefined : feature.compute(context);
      const cellValue = value === undefined || !Number.isFinite(value) ? defaultValue : value;
      for (let cell = column; cell < data.length; cell += columns) {
        data[cell] = cellValue;
      }
      continue;
    }
    if (feature.computeColumn !== undefined) {
      // The values are checked as doubles, before the float32 store, as `compute` values are.
      itemColumns ??= reusedColumns = itemColumnsOf(items, reusedColumns);
      feature.computeColumn(itemColumns, context, columnValues);
      for (let row = 0, cell = column; row < items.length; row++, cell += columns) {
        const value = columnValues[row] as number;
        data[cell] = Number.isFinite(value) ? value : defaultValue;
      }
      continue;
    }
    for (let row = 0, cell = column; row < items.length; row++, cell += columns) {
      context.item = items[row] as ItemSnapshot;
      const value = feature.compute(context);
      data[cell] = value === undefined || !Number.isFinite(value) ? defaultValue : value;
    }
  }
  return { data, rows: items.length, columns, featureNames: features.map((feature) => feature.name) };
}
