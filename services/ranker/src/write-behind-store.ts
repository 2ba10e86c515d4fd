import type { PlannedWrite, ReadRequest, ReadResult } from '@nexttap/features';
import type { FeatureStore } from '@nexttap/store';

interface QueuedWrites {
  writes: readonly PlannedWrite[];
  resolve: (applied: boolean[]) => void;
  reject: (error: unknown) => void;
}

/** A store that sends writes and the reads after them in one round trip (`RedisFeatureStore`). */
interface ApplyAndReadStore {
  applyAndRead(writes: readonly PlannedWrite[], requests: readonly ReadRequest[]): { applied: Promise<boolean[]>; results: Promise<ReadResult[]> };
}

export interface WriteBehindOptions {
  /**
   * Time queued writes wait for a read to travel with, in ms, before they are sent on their own.
   * 0 sends them at the end of the event-loop turn. Default 5.
   */
  flushDelayMs?: number;
}

/** Default wait of queued writes: a ranker under load reads for its next feed well within it. */
export const DEFAULT_FLUSH_DELAY_MS = 5;

/**
 * A feature store wrapper that sends the writes queued with `applyLater` together. Every write
 * queued within `flushDelayMs` goes out in one `apply` call, or, on a store with `applyAndRead`,
 * with the next read in one round trip: on Redis one socket write and one pipeline instead of
 * two. Any read or apply through this wrapper first sends the queued writes. The stores send
 * commands in call order on one connection, so a read issued after `applyLater` returns its
 * writes.
 */
export class WriteBehindStore implements FeatureStore {
  private queued: QueuedWrites[] = [];
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** The `apply` call of the last flush, settled either way. */
  private lastFlush: Promise<unknown> = Promise.resolve();
  private readonly flushDelayMs: number;
  private readonly combined: ApplyAndReadStore | undefined;

  constructor(
    private readonly store: FeatureStore,
    options: WriteBehindOptions = {},
  ) {
    this.flushDelayMs = options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS;
    if (!(this.flushDelayMs >= 0)) {
      throw new RangeError(`flushDelayMs is ${this.flushDelayMs}; set it to 0 or more ms`);
    }
    const candidate = store as Partial<ApplyAndReadStore>;
    this.combined = typeof candidate.applyAndRead === 'function' ? (candidate as ApplyAndReadStore) : undefined;
  }

  /**
   * Queues writes for the next read or apply, or for `flushDelayMs` later. Resolves as `apply`
   * does for these writes. Writes queued together fail together.
   */
  applyLater(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    const queued = new Promise<boolean[]>((resolve, reject) => {
      this.queued.push({ writes, resolve, reject });
    });
    if (this.flushTimer === undefined) {
      const flushLater = () => {
        this.flushTimer = undefined;
        this.flush();
      };
      this.flushTimer = this.flushDelayMs === 0 ? setImmediate(flushLater) : setTimeout(flushLater, this.flushDelayMs);
    }
    return queued;
  }

  apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    this.flush();
    return this.store.apply(writes);
  }

  read(requests: readonly ReadRequest[]): Promise<ReadResult[]> {
    if (this.combined === undefined || this.queued.length === 0) {
      this.flush();
      return this.store.read(requests);
    }
    const batch = this.takeQueued();
    const { applied, results } = this.combined.applyAndRead(writesOf(batch), requests);
    this.settle(batch, applied);
    return results;
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
    const batch = this.takeQueued();
    this.settle(batch, this.store.apply(writesOf(batch)));
  }

  private takeQueued(): QueuedWrites[] {
    const batch = this.queued;
    this.queued = [];
    if (this.flushTimer !== undefined) {
      if (this.flushDelayMs === 0) {
        clearImmediate(this.flushTimer as NodeJS.Immediate);
      } else {
        clearTimeout(this.flushTimer as NodeJS.Timeout);
      }
      this.flushTimer = undefined;
    }
    return batch;
  }

  private settle(batch: readonly QueuedWrites[], applying: Promise<boolean[]>): void {
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

function writesOf(batch: readonly QueuedWrites[]): readonly PlannedWrite[] {
  return batch.length === 1 ? (batch[0] as QueuedWrites).writes : batch.flatMap((entry) => entry.writes);
}
