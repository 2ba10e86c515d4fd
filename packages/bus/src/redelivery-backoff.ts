import { setTimeout as sleep } from 'node:timers/promises';
import { BusError } from './errors';

/** Delay before a batch whose handler failed is delivered again. */
export interface RedeliveryBackoffOptions {
  /** Delay after the first failure, in milliseconds. Default 200. */
  initialDelayMs?: number;
  /** Cap of the delay, in milliseconds. Default 10_000. */
  maxDelayMs?: number;
}

export type RedeliveryBackoff = Required<RedeliveryBackoffOptions>;

const DEFAULT_BACKOFF: RedeliveryBackoff = { initialDelayMs: 200, maxDelayMs: 10_000 };

/**
 * Randomizes each delay by up to ±20 %, so that consumers that failed at the
 * same moment, for example on a shared Redis outage, do not retry in step.
 */
const JITTER_FRACTION = 0.2;

/** Applies the defaults and throws a `BusError` naming an invalid option. */
export function resolveRedeliveryBackoff(options: RedeliveryBackoffOptions = {}): RedeliveryBackoff {
  const backoff = { ...DEFAULT_BACKOFF, ...options };
  for (const name of ['initialDelayMs', 'maxDelayMs'] as const) {
    const value = backoff[name];
    if (!Number.isFinite(value) || value <= 0) {
      throw new BusError('BUS_ERR_INVALID_ARGUMENT', `invalid redelivery.${name} ${value}: expected a positive number of milliseconds`);
    }
  }
  if (backoff.initialDelayMs > backoff.maxDelayMs) {
    throw new BusError(
      'BUS_ERR_INVALID_ARGUMENT',
      `invalid redelivery options: initialDelayMs ${backoff.initialDelayMs} exceeds maxDelayMs ${backoff.maxDelayMs}`,
    );
  }
  return backoff;
}

/**
 * Returns the delay in milliseconds after the `failedAttempts`-th consecutive
 * failure (1 or more): doubling from `initialDelayMs`, capped at `maxDelayMs`,
 * with jitter. `random` returns a number in [0, 1).
 */
export function redeliveryDelayMs(backoff: RedeliveryBackoff, failedAttempts: number, random: () => number = Math.random): number {
  // The exponent is capped so that 2 ** exponent stays finite after many failures.
  const exponent = Math.min(Math.max(failedAttempts - 1, 0), 30);
  const exponentialMs = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * 2 ** exponent);
  const jitter = 1 + (random() * 2 - 1) * JITTER_FRACTION;
  return Math.round(Math.min(backoff.maxDelayMs, exponentialMs * jitter));
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) {
    return false;
  }
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (error) {
    if (signal.aborted) {
      return false;
    }
    throw error;
  }
}
