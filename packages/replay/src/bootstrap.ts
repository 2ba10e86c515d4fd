import { createRandom } from './random';

/** A point estimate with the bounds of its confidence interval. */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** Settings of the percentile bootstrap over evaluation points. */
export interface BootstrapSettings {
  /** Resamples drawn. */
  resamples: number;
  seed: number;
  /** Coverage of the interval, such as 0.95. */
  level: number;
}

/**
 * Draws `resamples` bootstrap resamples of `points` points, each `points` draws with replacement,
 * and calls `visit` with the points drawn at least once and how often each was drawn. Two calls
 * with equal arguments visit equal resamples, so metrics bootstrapped separately stay paired.
 */
export function forEachResample(
  points: number,
  settings: BootstrapSettings,
  visit: (drawn: Int32Array, multiplicity: Int32Array, drawnCount: number) => void,
): void {
  const random = createRandom(settings.seed);
  const counts = new Int32Array(points);
  const drawn = new Int32Array(points);
  const multiplicity = new Int32Array(points);
  for (let resample = 0; resample < settings.resamples; resample++) {
    counts.fill(0);
    for (let draw = 0; draw < points; draw++) {
      const point = Math.floor(random() * points);
      counts[point] = (counts[point] as number) + 1;
    }
    let drawnCount = 0;
    for (let point = 0; point < points; point++) {
      const count = counts[point] as number;
      if (count > 0) {
        drawn[drawnCount] = point;
        multiplicity[drawnCount] = count;
        drawnCount += 1;
      }
    }
    visit(drawn, multiplicity, drawnCount);
  }
}

/**
 * Returns the bootstrap distribution of the mean of each column: one mean per resample. NaN
 * values are undefined points and take no part in a mean; a resample without a defined value
 * gives NaN.
 *
 * The columns are copied into one matrix, column after column. Each column's sum adds the drawn
 * points in ascending order, so the means do not depend on the layout.
 */
export function bootstrapMeanDistributions(columns: readonly Float64Array[], settings: BootstrapSettings): Float64Array[] {
  const points = columns[0]?.length ?? 0;
  const distributions = columns.map(() => new Float64Array(settings.resamples));
  if (points === 0) {
    distributions.forEach((distribution) => distribution.fill(Number.NaN));
    return distributions;
  }
  const matrix = new PointMatrix(columns);
  const sums = new Float64Array(columns.length);
  const weights = new Float64Array(matrix.undefinedColumns.length);
  let resample = 0;
  forEachResample(points, settings, (drawn, multiplicity, drawnCount) => {
    matrix.sumDrawn(drawn, multiplicity, drawnCount, sums, weights);
    columns.forEach((_, columnIndex) => {
      const weightIndex = matrix.weightIndex[columnIndex] as number;
      // A column without undefined points has every draw as weight: `points` in all.
      const weight = weightIndex < 0 ? points : (weights[weightIndex] as number);
      (distributions[columnIndex] as Float64Array)[resample] = weight === 0 ? Number.NaN : (sums[columnIndex] as number) / weight;
    });
    resample += 1;
  });
  return distributions;
}

/** Columns with at most this share of non-zero values are summed over those values only. */
const SPARSE_SHARE = 0.3;

/**
 * The columns of a bootstrap, laid out for summing resamples. Dense columns are stored one after
 * another, with undefined (NaN) values as 0 and, for the columns that have any, a 0/1 matrix of
 * which values are defined. Sparse columns (hit rates, NDCG, MRR: mostly 0) keep their non-zero
 * values only. Either way a column's sum adds its terms in ascending point order, and a term of 0
 * changes no sum, so the means do not depend on the layout.
 */
class PointMatrix {
  private readonly points: number;
  private readonly denseColumns: number[];
  /** The dense columns one after another, each `points` values long. */
  private readonly values: Float64Array;
  private readonly defined: Float64Array;
  private readonly sparse: Array<{ column: number; points: Int32Array; values: Float64Array }>;
  /** Draws of each point in the current resample, 0 for points not drawn. */
  private readonly counts: Int32Array;
  /** Columns with at least one NaN value; they are always dense. */
  readonly undefinedColumns: number[];
  /** Per column, its index in `undefinedColumns`, or -1. */
  readonly weightIndex: Int32Array;

  constructor(columns: readonly Float64Array[]) {
    const points = columns[0]?.length ?? 0;
    this.counts = new Int32Array(points);
    this.undefinedColumns = columns.flatMap((column, columnIndex) => (column.some(Number.isNaN) ? [columnIndex] : []));
    this.weightIndex = new Int32Array(columns.length).fill(-1);
    this.undefinedColumns.forEach((columnIndex, weightIndex) => {
      this.weightIndex[columnIndex] = weightIndex;
    });
    const isSparse = (column: Float64Array, columnIndex: number) =>
      this.weightIndex[columnIndex] === -1 && column.filter((value) => value !== 0).length <= SPARSE_SHARE * points;
    this.denseColumns = columns.flatMap((column, columnIndex) => (isSparse(column, columnIndex) ? [] : [columnIndex]));
    this.sparse = columns.flatMap((column, columnIndex) => {
      if (!isSparse(column, columnIndex)) {
        return [];
      }
      const nonZero = [...column.keys()].filter((point) => column[point] !== 0);
      return [{ column: columnIndex, points: Int32Array.from(nonZero), values: Float64Array.from(nonZero, (point) => column[point] as number) }];
    });
    this.points = points;
    this.values = new Float64Array(points * this.denseColumns.length);
    this.defined = new Float64Array(points * this.undefinedColumns.length);
    this.denseColumns.forEach((columnIndex, denseIndex) => {
      const column = columns[columnIndex] as Float64Array;
      for (let point = 0; point < points; point++) {
        const value = column[point] as number;
        this.values[denseIndex * points + point] = Number.isNaN(value) ? 0 : value;
      }
    });
    this.undefinedColumns.forEach((columnIndex, weightIndex) => {
      const column = columns[columnIndex] as Float64Array;
      for (let point = 0; point < points; point++) {
        this.defined[weightIndex * points + point] = Number.isNaN(column[point] as number) ? 0 : 1;
      }
    });
  }

  /** Sets `sums` to each column's sum over the drawn points and `weights` to the defined draws of each column with NaN values. */
  sumDrawn(drawn: Int32Array, multiplicity: Int32Array, drawnCount: number, sums: Float64Array, weights: Float64Array): void {
    this.sumDense(drawn, multiplicity, drawnCount, sums, weights);
    const counts = this.counts;
    for (let entry = 0; entry < drawnCount; entry++) {
      counts[drawn[entry] as number] = multiplicity[entry] as number;
    }
    // An index loop, because V8 in Node 20 deoptimized a for...of over this array once per
    // resample (1,000 deoptimizations per MovieLens replay with --trace-deopt).
    for (let sparseIndex = 0; sparseIndex < this.sparse.length; sparseIndex++) {
      const { column, points, values } = this.sparse[sparseIndex] as { column: number; points: Int32Array; values: Float64Array };
      let sum = 0;
      for (let index = 0; index < points.length; index++) {
        const count = counts[points[index] as number] as number;
        if (count > 0) {
          sum += (values[index] as number) * count;
        }
      }
      sums[column] = sum;
    }
    for (let entry = 0; entry < drawnCount; entry++) {
      counts[drawn[entry] as number] = 0;
    }
  }

  private sumDense(drawn: Int32Array, multiplicity: Int32Array, drawnCount: number, sums: Float64Array, weights: Float64Array): void {
    const points = this.points;
    const values = this.values;
    const denseCount = this.denseColumns.length;
    // Four columns per pass, each summed in its own local, so a pass loads each drawn point and its
    // multiplicity once for four columns and stores nothing until the end. Every column still
    // adds its terms in ascending point order, so the sums do not depend on the grouping.
    let denseIndex = 0;
    for (; denseIndex + 4 <= denseCount; denseIndex += 4) {
      const first = denseIndex * points;
      const second = first + points;
      const third = second + points;
      const fourth = third + points;
      let firstSum = 0;
      let secondSum = 0;
      let thirdSum = 0;
      let fourthSum = 0;
      for (let entry = 0; entry < drawnCount; entry++) {
        const point = drawn[entry] as number;
        const count = multiplicity[entry] as number;
        firstSum += (values[first + point] as number) * count;
        secondSum += (values[second + point] as number) * count;
        thirdSum += (values[third + point] as number) * count;
        fourthSum += (values[fourth + point] as number) * count;
      }
      sums[this.denseColumns[denseIndex] as number] = firstSum;
      sums[this.denseColumns[denseIndex + 1] as number] = secondSum;
      sums[this.denseColumns[denseIndex + 2] as number] = thirdSum;
      sums[this.denseColumns[denseIndex + 3] as number] = fourthSum;
    }
    for (; denseIndex < denseCount; denseIndex++) {
      sums[this.denseColumns[denseIndex] as number] = sumColumn(values, denseIndex * points, drawn, multiplicity, drawnCount);
    }
    for (let weightIndex = 0; weightIndex < weights.length; weightIndex++) {
      weights[weightIndex] = sumColumn(this.defined, weightIndex * points, drawn, multiplicity, drawnCount);
    }
  }
}

/** Sums the drawn points' values of the column at `offset`, each times its multiplicity, in ascending point order. */
function sumColumn(values: Float64Array, offset: number, drawn: Int32Array, multiplicity: Int32Array, drawnCount: number): number {
  let sum = 0;
  for (let entry = 0; entry < drawnCount; entry++) {
    sum += (values[offset + (drawn[entry] as number)] as number) * (multiplicity[entry] as number);
  }
  return sum;
}

/** Returns each column's mean with its percentile bootstrap interval. */
export function bootstrapMeans(columns: readonly Float64Array[], settings: BootstrapSettings): Interval[] {
  const distributions = bootstrapMeanDistributions(columns, settings);
  return columns.map((column, index) => ({ value: mean(column), ...percentileInterval(distributions[index] as Float64Array, settings.level) }));
}

/** Returns the mean of the defined (non-NaN) values, or NaN when there are none. */
export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let index = 0; index < values.length; index++) {
    const value = values[index] as number;
    if (!Number.isNaN(value)) {
      sum += value;
      count += 1;
    }
  }
  return count === 0 ? Number.NaN : sum / count;
}

/**
 * Returns the percentile interval of a bootstrap distribution: the (1 − level)/2 and
 * (1 + level)/2 quantiles by the nearest-rank method, ignoring NaN resamples.
 */
export function percentileInterval(distribution: Float64Array, level: number): { low: number; high: number } {
  const sorted = distribution.filter((value) => !Number.isNaN(value)).sort();
  if (sorted.length === 0) {
    return { low: Number.NaN, high: Number.NaN };
  }
  const tail = (1 - level) / 2;
  const lowRank = Math.max(1, Math.ceil(tail * sorted.length));
  const highRank = Math.min(sorted.length, Math.ceil((1 - tail) * sorted.length));
  return { low: sorted[lowRank - 1] as number, high: sorted[highRank - 1] as number };
}
