import type { BusRecord, DeliveredRecord } from './event-bus';

/** Dropped entries at the front of the array after which `append` compacts it. */
const COMPACT_AFTER_DROPPED = 1_024;

/**
 * Append-only record log of one in-process partition. It retains at most
 * `maxRecords` records and drops the oldest beyond that, so `startOffset`
 * grows while offsets of retained records never change.
 */
export class PartitionLog {
  /** Retained records from index `head` on. Slots below `head` were dropped and hold undefined. */
  private records: (DeliveredRecord | undefined)[] = [];
  private head = 0;
  private firstRetainedOffset = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly maxRecords: number,
  ) {}

  /** Offset of the oldest retained record, or `endOffset` when the log is empty. */
  get startOffset(): number {
    return this.firstRetainedOffset;
  }

  /** Offset that the next appended record gets. */
  get endOffset(): number {
    return this.firstRetainedOffset + this.records.length - this.head;
  }

  append(record: BusRecord, timestampMs: number): void {
    const value = typeof record.value === 'string' ? Buffer.from(record.value, 'utf8') : Buffer.from(record.value);
    // Records are shared by every group that reads them, so they are frozen and copied from the caller's objects.
    this.records.push(
      Object.freeze({
        topic: this.topic,
        partition: this.partition,
        offset: String(this.endOffset),
        key: record.key,
        value,
        headers: Object.freeze({ ...record.headers }),
        timestampMs,
      }),
    );
    if (this.records.length - this.head > this.maxRecords) {
      // Clearing the slot frees the record now. The array itself is compacted once dropped slots are half of it.
      this.records[this.head] = undefined;
      this.head += 1;
      this.firstRetainedOffset += 1;
      if (this.head >= COMPACT_AFTER_DROPPED && this.head * 2 >= this.records.length) {
        this.records = this.records.slice(this.head);
        this.head = 0;
      }
    }
  }

  /** Returns up to `maxRecords` retained records from `fromOffset` on, which must be at least `startOffset`. */
  read(fromOffset: number, maxRecords: number): DeliveredRecord[] {
    const start = this.head + (fromOffset - this.firstRetainedOffset);
    // Slots from `head` on are never undefined.
    return this.records.slice(start, start + maxRecords) as DeliveredRecord[];
  }
}
