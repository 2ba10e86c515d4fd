import type { PlannedWrite, ReadRequest, ReadResult } from '@nexttap/features';
import type { FeatureStore } from '@nexttap/store';

interface QueuedWrites {
  writes: readonly PlannedWrite[];
  resolve: (applied: boolean[]) => void;
  reject: (error: unknown) => void;
}

/**
 * A feature store wrapper that sends the writes queued with `applyLater` together. Every write
 * queued in one event-loop turn goes out in one `apply` call at the end of the turn (in a
 * `setImmediate` callback). Any read or apply through this wrapper first sends the queued writes.
 * The stores send commands in call order on one connection, so a read issued after `applyLater`
 * returns its writes. On Redis one call is one script run and one socket write, however many
 * served feeds it records.
 */
export class WriteBehindStore implements FeatureStore {
  private queued: QueuedWrites[] = [];
  private flushScheduled = false;
  /** The `apply` call of the last flush, settled either way. */
  private lastFlush: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: FeatureStore) {}

  /**
   * Queues writes for the end of the turn, or for the next read or apply. Resolves as `apply`
   * does for these writes. Writes queued together fail together.
   */
  applyLater(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    const queued = new Promise<boolean[]>((resolve, reject) => {
      this.queued.push({ writes, resolve, reject });
    });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return queued;
  }

  apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    this.flush();
    return this.store.apply(writes);
  }

  read(requests: readonly ReadRequest[]): Promise<ReadResult[]> {
    this.flush();
    return this.store.read(requests);
  }

  /** Sends the queued writes now and waits until the store has acknowledged or rejected them. */
  async drain(): Promise<void> {
    this.flush();
    await this.lastFlush;
  }

  /** Drains the queued writes. The wrapped store stays open: its owner closes it. */
  async close(): Promise<void> {
    await this.drain();
  }

  /** Sends the queued writes in one `apply` call and settles each caller's share of its result. */
  flush(): void {
    if (this.queued.length === 0) {
      return;
    }
    const batch = this.queued;
    this.queued = [];
    const writes = batch.length === 1 ? (batch[0] as QueuedWrites).writes : batch.flatMap((entry) => entry.writes);
    const applying = this.store.apply(writes);
    this.lastFlush = applying.catch(() => undefined);
    applying.then(
      (applied) => {
        let offset = 0;
        for (const entry of batch) {
          entry.resolve(applied.slice(offset, offset + entry.writes.length));
          offset += entry.writes.length;
        }
      },
      (error: unknown) => {
        for (const entry of batch) {
          entry.reject(error);
        }
      },
    );
  }
}
