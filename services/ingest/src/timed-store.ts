import type { FeatureStore, PlannedWrite, ReadRequest, ReadResult } from '@nexttap/features';

/**
 * A `FeatureStore` that passes every call on to `store` and sums the time of the reads and of the
 * writes, in ms. Wrapped around one batch's `applyInteractions`, the rest of that call's time is
 * its planning.
 */
export class TimedStore implements FeatureStore {
  readMs = 0;
  writeMs = 0;

  constructor(private readonly store: FeatureStore) {}

  async read(requests: readonly ReadRequest[]): Promise<ReadResult[]> {
    const startMs = performance.now();
    try {
      return await this.store.read(requests);
    } finally {
      this.readMs += performance.now() - startMs;
    }
  }

  async apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    const startMs = performance.now();
    try {
      return await this.store.apply(writes);
    } finally {
      this.writeMs += performance.now() - startMs;
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
