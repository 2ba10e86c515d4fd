import { performance } from 'node:perf_hooks';

/** The feature store did not answer within the request's budget. */
export class StoreBudgetExceededError extends Error {
  override readonly name = 'StoreBudgetExceededError';

  constructor(readonly budgetMs: number) {
    super(`the feature store did not answer within the request budget of ${budgetMs} ms`);
  }
}

/**
 * The time one request may spend waiting for the feature store, shared by all of its reads. A read
 * that is still pending when the budget runs out is abandoned (its reply is ignored) and the
 * request fails over to the in-process pool copy.
 */
export class StoreBudget {
  private readonly startedMs = performance.now();

  constructor(readonly budgetMs: number) {}

  /** Milliseconds left; never negative. */
  get remainingMs(): number {
    return Math.max(0, this.budgetMs - (performance.now() - this.startedMs));
  }

  /** Resolves with the read's value, or rejects with StoreBudgetExceededError when the budget runs out first. */
  async race<T>(read: Promise<T>): Promise<T> {
    const remainingMs = this.remainingMs;
    if (!Number.isFinite(remainingMs)) {
      return read;
    }
    // Timers fire on whole milliseconds, so less than 1 ms left counts as spent.
    if (remainingMs < 1) {
      // The abandoned read may still reject later; it must not become an unhandled rejection.
      read.catch(() => undefined);
      throw new StoreBudgetExceededError(this.budgetMs);
    }
    // One promise settled by whichever comes first. A read that settles after the budget ran out
    // is ignored, and its rejection is handled here, so it never becomes an unhandled rejection.
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreBudgetExceededError(this.budgetMs)), Math.ceil(remainingMs));
      read.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}

/** A budget that never runs out, for replay and other callers without a latency target. */
export const UNLIMITED_STORE_BUDGET = new StoreBudget(Number.POSITIVE_INFINITY);
