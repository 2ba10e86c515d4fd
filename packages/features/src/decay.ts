/**
 * Forward decay (Cormode, Shkapenyuk, Srivastava and Xu, "Forward Decay: A Practical Time Decay
 * Model for Streaming Systems", ICDE 2009). An event at time t adds w·2^((t−L)/h) to a stored sum,
 * where L is a landmark time and h the half-life; reading at time `now` divides the sum by
 * 2^((now−L)/h). Additions commute, so consumers may apply events in any order.
 */

/**
 * Exponent (in half-lives past the landmark) at which a stored sum is rescaled to a newer landmark.
 * 2^256 is far below the largest double (about 2^1024), so sums of millions of events cannot overflow.
 */
export const RENEW_EXPONENT = 256;

/**
 * Exponent at which a sorted set with integer scores (see `zsetDecayAdd`) is rescaled. Redis 7.0
 * formats a score below 2^52 that is a whole number as an integer (`d2string`), which its compact
 * encoding then stores as one. This exponent leaves room for 2^(52 − 16) units, 2^16 weights at a
 * scale of 2^20, before a score falls back to text.
 */
export const INTEGER_RENEW_EXPONENT = 16;

/** Returns the scaled weight an event at `tMs` adds to a sum with landmark `landmarkMs`. */
export function forwardWeight(weight: number, tMs: number, landmarkMs: number, halfLifeMs: number): number {
  return weight * 2 ** ((tMs - landmarkMs) / halfLifeMs);
}

/** Returns the decayed value at `nowMs` of a sum stored against `landmarkMs`. */
export function readDecayed(scaled: number, landmarkMs: number, nowMs: number, halfLifeMs: number): number {
  return scaled / decayDivisor(landmarkMs, nowMs, halfLifeMs);
}

/** Returns what `readDecayed` divides a sum by: a caller that reads many sums of one landmark and half-life computes it once. */
export function decayDivisor(landmarkMs: number, nowMs: number, halfLifeMs: number): number {
  return 2 ** ((nowMs - landmarkMs) / halfLifeMs);
}

/** Tells whether writing an event at `tMs` must first move the landmark forward. */
export function needsRenewal(tMs: number, landmarkMs: number, halfLifeMs: number, exponent: number = RENEW_EXPONENT): boolean {
  return (tMs - landmarkMs) / halfLifeMs > exponent;
}

/** Returns the factor that rescales a sum from `oldLandmarkMs` to `newLandmarkMs`. */
export function renewalFactor(oldLandmarkMs: number, newLandmarkMs: number, halfLifeMs: number): number {
  return 2 ** ((oldLandmarkMs - newLandmarkMs) / halfLifeMs);
}

/** Returns the directly computed decayed sum of weighted events at `nowMs`; the reference for tests. */
export function directDecayedSum(events: ReadonlyArray<{ weight: number; tMs: number }>, nowMs: number, halfLifeMs: number): number {
  let sum = 0;
  for (const event of events) {
    sum += event.weight * 2 ** ((event.tMs - nowMs) / halfLifeMs);
  }
  return sum;
}
