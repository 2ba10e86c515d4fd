import type { PlannedWrite, ReadRequest, ReadResult } from './operations';

/**
 * Storage of feature state, with no notion of features: the feature logic plans writes and reads,
 * and every implementation applies them with the same semantics, checked by one contract test suite.
 */
export interface FeatureStore {
  /**
   * Applies each planned write atomically. Returns, per write, true when it was applied and false
   * when its dedup key was already present (a redelivered event). Resolves only after the store
   * acknowledged every write.
   */
  apply(writes: readonly PlannedWrite[]): Promise<boolean[]>;
  /** Returns the results of the reads from one round trip, in the order given. */
  read(requests: readonly ReadRequest[]): Promise<ReadResult[]>;
  close(): Promise<void>;
}
