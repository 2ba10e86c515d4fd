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
  // At p = 0 the lower bound is exactly 0 and at p = 1 the upper bound exactly 1, but center ∓ half
  // rounds to values such as 5.6e-17 (0 of 3) or 0.9999999999999999 (7 of 7), so those are set exactly.
  const low = p === 0 ? 0 : Math.max(0, center - half);
  const high = p === 1 ? 1 : Math.min(1, center + half);
  return { value: p, low, high };
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
