/** z of a two-sided 95% interval of the normal distribution. */
export const Z_95 = 1.959964;

/** A point estimate with a 95% confidence interval; bounds are null when there is no data. */
export interface Estimate {
  value: number | null;
  low: number | null;
  high: number | null;
}

/**
 * Wilson score interval of a binomial proportion (Wilson, 1927, "Probable inference, the law of
 * succession, and statistical inference", JASA 22). Unlike the normal approximation it stays in
 * [0, 1] and is usable at rates near 0 and with few trials.
 */
export function wilsonInterval(successes: number, trials: number, z = Z_95): Estimate {
  if (trials <= 0) {
    return { value: null, low: null, high: null };
  }
  const p = Math.min(1, Math.max(0, successes / trials));
  const z2 = z * z;
  const center = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return { value: p, low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

/**
 * Mean with a normal-approximation interval (mean ± z·s/√n) from the count, sum and sum of
 * squares. With n < 2 the bounds are null, because no variance can be estimated.
 */
export function meanInterval(count: number, sum: number, sumOfSquares: number, z = Z_95): Estimate {
  if (count <= 0) {
    return { value: null, low: null, high: null };
  }
  const mean = sum / count;
  if (count < 2) {
    return { value: mean, low: null, high: null };
  }
  const variance = Math.max(0, (sumOfSquares - count * mean * mean) / (count - 1));
  const half = z * Math.sqrt(variance / count);
  return { value: mean, low: mean - half, high: mean + half };
}
