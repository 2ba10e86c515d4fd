import type { DeliveredRecord } from './event-bus';

/**
 * Records of one topic-partition that the consumer fetched ahead of the handler, in offset order.
 * The consumer appends each fetched batch, and one drain loop at a time takes them out for handler
 * calls, so the calls of one partition never overlap and follow the offsets.
 */
export class PartitionQueue {
  private records: DeliveredRecord[] = [];
  /** Offset after the last record appended. A record below it was appended before. */
  private nextOffset: bigint | undefined;
  private roomWaiters: Array<() => void> = [];
  private isRetired = false;
  /** The drain loop while it runs. */
  draining: Promise<void> | undefined;
  /** Offset commits of this queue, chained so that they reach the coordinator in offset order. */
  commits: Promise<void> = Promise.resolve();

  /**
   * @param maxRecords max records taken by one handler call, and the count of waiting records at
   *   which `waitForRoom` pauses the fetching
   * @param previous settles when the queue that this one replaces finished its handler call and commits
   */
  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly maxRecords: number,
    readonly previous: Promise<void> = Promise.resolve(),
  ) {}

  get length(): number {
    return this.records.length;
  }

  get retired(): boolean {
    return this.isRetired;
  }

  /**
   * Appends records in offset order. Records below the offset after the last appended one are
   * dropped, because they were appended already. Returns the number dropped.
   */
  append(records: readonly DeliveredRecord[]): number {
    if (this.isRetired) {
      return records.length;
    }
    let dropped = 0;
    for (const record of records) {
      const offset = BigInt(record.offset);
      if (this.nextOffset !== undefined && offset < this.nextOffset) {
        dropped += 1;
        continue;
      }
      this.records.push(record);
      this.nextOffset = offset + 1n;
    }
    return dropped;
  }

  /** Removes and returns up to `maxRecords` records from the front, and wakes the fetches waiting for room. */
  take(): DeliveredRecord[] {
    let batch: DeliveredRecord[];
    if (this.records.length <= this.maxRecords) {
      batch = this.records;
      this.records = [];
    } else {
      batch = this.records.splice(0, this.maxRecords);
    }
    if (this.records.length < this.maxRecords) {
      this.wakeRoomWaiters();
    }
    return batch;
  }

  /** Resolves once fewer than `maxRecords` records wait, or once the queue is retired. */
  waitForRoom(): Promise<void> {
    if (this.isRetired || this.records.length < this.maxRecords) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /**
   * Drops the waiting records and accepts no more. Their offsets were never committed, so the
   * partition's next fetch after a group join, by this member or another, returns them again.
   */
  retire(): void {
    this.isRetired = true;
    this.records = [];
    this.wakeRoomWaiters();
  }

  /** Settles when the replaced queue, the drain loop and the commits of this queue have finished. */
  async idle(): Promise<void> {
    await this.previous;
    await this.draining;
    await this.commits;
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) {
      wake();
    }
  }
}
