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
 */
export function bootstrapMeanDistributions(columns: readonly Float64Array[], settings: BootstrapSettings): Float64Array[] {
  const points = columns[0]?.length ?? 0;
  const distributions = columns.map(() => new Float64Array(settings.resamples));
  if (points === 0) {
    distributions.forEach((distribution) => distribution.fill(Number.NaN));
    return distributions;
  }
  let resample = 0;
  forEachResample(points, settings, (drawn, multiplicity, drawnCount) => {
    columns.forEach((column, columnIndex) => {
      let sum = 0;
      let weight = 0;
      for (let entry = 0; entry < drawnCount; entry++) {
        const value = column[drawn[entry] as number] as number;
        if (!Number.isNaN(value)) {
          const count = multiplicity[entry] as number;
          sum += value * count;
          weight += count;
        }
      }
      (distributions[columnIndex] as Float64Array)[resample] = weight === 0 ? Number.NaN : sum / weight;
    });
    resample += 1;
  });
  return distributions;
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
