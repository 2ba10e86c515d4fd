import type { Logger } from 'pino';
import type { DeliveredRecord, StopOptions, SubscribeOptions, Subscription } from './event-bus';
import type { PartitionLog } from './partition-log';
import { redeliveryDelayMs, sleepUnlessAborted, type RedeliveryBackoff } from './redelivery-backoff';

/** Topics, scheduling and settings of the in-process bus, as its consumer groups use them. */
export interface GroupContext {
  /** Returns the partition logs of an existing topic, indexed by partition. */
  partitionLogs(topic: string): readonly PartitionLog[];
  /** Runs `dispatch` of every group on the next turn of the event loop. */
  scheduleDispatch(): void;
  logger: Logger;
  redelivery: RedeliveryBackoff;
  maxBatchSize: number;
}

/** Delivery state of one topic-partition within a group. */
interface PartitionCursor {
  readonly log: PartitionLog;
  /** Offset of the next record to deliver. */
  position: number;
  /**
   * Records whose handler failed when their member stopped. The next owner
   * receives them again, unchanged, before anything newer.
   */
  failedBatch: DeliveredRecord[] | undefined;
  delivering: boolean;
}

/** A member of an in-process consumer group. */
export class InProcessSubscription implements Subscription {
  readonly topics: readonly string[];
  running = true;
  /** Aborts the wait before a redelivery when the member stops. */
  readonly stopController = new AbortController();
  /** The delivery in progress, if any. A member handles one batch at a time. */
  inFlight: Promise<void> | undefined;
  /** Number of records of the delivery in progress. */
  inFlightRecords = 0;
  /** The drain in progress, if the member is stopping with `drain`. */
  drain: Drain | undefined;
  /** Index into this member's partitions where the next dispatch starts looking, for fairness. */
  nextCursorIndex = 0;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly options: SubscribeOptions,
    private readonly leave: (member: InProcessSubscription, options: StopOptions) => Promise<void>,
  ) {
    this.topics = [...new Set(options.topics)];
  }

  stop(options: StopOptions = {}): Promise<void> {
    this.stopping ??= this.leave(this, options);
    return this.stopping;
  }
}

/** A member's delivery of the records that were in its partitions when it began to stop. */
interface Drain {
  /** End offset of each partition of the member's topics when the drain began. */
  readonly endOffsets: Map<PartitionCursor, number>;
  /** Ends the drain's wait, with whether every record before `endOffsets` is committed. */
  readonly finish: (drained: boolean) => void;
}

/**
 * Committed offsets and partition assignment of one consumer group. Each
 * topic's partitions are spread over the members subscribed to it, partition
 * p going to the (p mod n)-th of the n members in join order.
 */
export class ConsumerGroup {
  private readonly committed = new Map<string, number>();
  private readonly members: InProcessSubscription[] = [];
  private readonly cursorsByTopic = new Map<string, PartitionCursor[]>();

  constructor(
    readonly groupId: string,
    private readonly context: GroupContext,
  ) {}

  committedOffset(topic: string, partition: number): number | undefined {
    return this.committed.get(offsetKey(topic, partition));
  }

  /** Adds a member. A partition without a cursor starts at the committed offset, else per `fromBeginning`. */
  join(member: InProcessSubscription): void {
    this.members.push(member);
    for (const topic of member.topics) {
      if (this.cursorsByTopic.has(topic)) {
        continue;
      }
      const cursors = this.context.partitionLogs(topic).map((log) => ({
        log,
        position: this.committed.get(offsetKey(topic, log.partition)) ?? (member.options.fromBeginning ? log.startOffset : log.endOffset),
        failedBatch: undefined,
        delivering: false,
      }));
      this.cursorsByTopic.set(topic, cursors);
    }
    this.context.scheduleDispatch();
  }

  /**
   * Removes a member and waits for its delivery in flight, after draining its
   * partitions when `options.drain` is set. Cursors of topics that no member
   * reads any more are dropped, so a later member starts again from the
   * committed offset or per `fromBeginning`, as in Kafka.
   */
  async leave(member: InProcessSubscription, options: StopOptions = {}): Promise<void> {
    if (options.drain === true) {
      await this.drain(member, options.signal);
    }
    member.running = false;
    member.stopController.abort();
    const index = this.members.indexOf(member);
    if (index !== -1) {
      this.members.splice(index, 1);
    }
    // The remaining members take over the partitions that are not in flight.
    this.context.scheduleDispatch();
    await member.inFlight;

    for (const topic of this.cursorsByTopic.keys()) {
      if (!this.members.some((other) => other.topics.includes(topic))) {
        this.cursorsByTopic.delete(topic);
      }
    }
  }

  /**
   * Keeps delivering to `member` until every record produced to its
   * partitions before this call is committed, or until `signal` aborts.
   * Records produced meanwhile are left for the partitions' next owner, so a
   * handler that produces to its own topic cannot prolong the drain.
   */
  private async drain(member: InProcessSubscription, signal: AbortSignal | undefined): Promise<void> {
    const endOffsets = new Map<PartitionCursor, number>();
    for (const topic of member.topics) {
      for (const cursor of this.cursorsByTopic.get(topic) ?? []) {
        endOffsets.set(cursor, cursor.log.endOffset);
      }
    }
    const recordsAtStart = this.undrainedRecords(member, endOffsets);
    let finish: (drained: boolean) => void = () => {};
    const finished = new Promise<boolean>((resolve) => {
      finish = resolve;
    });
    // The warning is logged in the abort listener itself, so that it is written before a process
    // that exits right after the abort.
    const abort = () => {
      const uncommittedRecords = this.undrainedRecords(member, endOffsets);
      if (uncommittedRecords > 0) {
        this.context.logger.warn(
          { groupId: this.groupId, topics: member.topics, uncommittedRecords, inFlightRecords: member.inFlightRecords },
          'drain aborted before every record was committed',
        );
      }
      finish(uncommittedRecords === 0);
    };
    if (signal?.aborted === true) {
      abort();
    } else {
      signal?.addEventListener('abort', abort, { once: true });
      member.drain = { endOffsets, finish };
      this.context.scheduleDispatch();
    }
    try {
      if (await finished) {
        this.context.logger.info({ groupId: this.groupId, topics: member.topics, drainedRecords: recordsAtStart }, 'consumer drained');
      }
    } finally {
      signal?.removeEventListener('abort', abort);
      member.drain = undefined;
    }
  }

  /** Counts the records before `endOffsets` that are not committed yet in the partitions `member` owns. */
  private undrainedRecords(member: InProcessSubscription, endOffsets: Map<PartitionCursor, number>): number {
    let count = 0;
    for (const cursor of this.cursorsOwnedBy(member)) {
      count += Math.max(0, (endOffsets.get(cursor) ?? 0) - cursor.position);
    }
    return count;
  }

  /** Stops every member and waits for their deliveries in flight. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.members].map((member) => member.stop()));
  }

  /** Starts one batch for every idle member that owns a partition with records to deliver. */
  dispatch(): void {
    for (const member of this.members) {
      if (!member.running || member.inFlight !== undefined) {
        continue;
      }
      this.dispatchTo(member);
      const { drain } = member;
      if (drain !== undefined && member.inFlight === undefined && this.undrainedRecords(member, drain.endOffsets) === 0) {
        drain.finish(true);
      }
    }
  }

  private dispatchTo(member: InProcessSubscription): void {
    const owned = this.cursorsOwnedBy(member);
    for (let step = 0; step < owned.length; step++) {
      const index = (member.nextCursorIndex + step) % owned.length;
      const cursor = owned[index];
      const records = cursor === undefined ? undefined : this.nextBatch(cursor, member.drain?.endOffsets.get(cursor));
      if (cursor !== undefined && records !== undefined) {
        member.nextCursorIndex = index + 1;
        member.inFlightRecords = records.length;
        member.inFlight = this.deliver(member, cursor, records);
        return;
      }
    }
  }

  private cursorsOwnedBy(member: InProcessSubscription): PartitionCursor[] {
    const owned: PartitionCursor[] = [];
    for (const topic of member.topics) {
      const readers = this.members.filter((other) => other.topics.includes(topic));
      const memberIndex = readers.indexOf(member);
      for (const cursor of this.cursorsByTopic.get(topic) ?? []) {
        if (cursor.log.partition % readers.length === memberIndex) {
          owned.push(cursor);
        }
      }
    }
    return owned;
  }

  /**
   * Returns the records to deliver next from `cursor`, before `endOffset` when given, or undefined
   * when it is busy or caught up.
   */
  private nextBatch(cursor: PartitionCursor, endOffset: number | undefined): DeliveredRecord[] | undefined {
    if (cursor.delivering) {
      return undefined;
    }
    if (cursor.failedBatch !== undefined) {
      return cursor.failedBatch;
    }
    const { log } = cursor;
    if (cursor.position < log.startOffset) {
      this.context.logger.warn(
        { groupId: this.groupId, topic: log.topic, partition: log.partition, droppedRecords: log.startOffset - cursor.position },
        'records were dropped by retention before the group read them',
      );
      cursor.position = log.startOffset;
    }
    const maxRecords = endOffset === undefined ? this.context.maxBatchSize : Math.min(this.context.maxBatchSize, endOffset - cursor.position);
    if (maxRecords <= 0) {
      return undefined;
    }
    const records = log.read(cursor.position, maxRecords);
    return records.length > 0 ? records : undefined;
  }

  /** Delivers `records` until the handler succeeds, then commits them. Keeps them for the next owner when the member stops first. */
  private async deliver(member: InProcessSubscription, cursor: PartitionCursor, records: DeliveredRecord[]): Promise<void> {
    cursor.delivering = true;
    cursor.failedBatch = undefined;
    try {
      if (await this.handleUntilSuccess(member, cursor, records)) {
        this.commit(cursor, records);
      } else {
        cursor.failedBatch = records;
      }
    } finally {
      cursor.delivering = false;
      member.inFlight = undefined;
      member.inFlightRecords = 0;
      this.context.scheduleDispatch();
    }
  }

  /**
   * Calls the handler until it succeeds, waiting with backoff between
   * attempts as KafkaBus does, so that the member receives nothing else
   * meanwhile. Returns false when the member stops between attempts.
   */
  private async handleUntilSuccess(member: InProcessSubscription, cursor: PartitionCursor, records: DeliveredRecord[]): Promise<boolean> {
    const { topic, partition } = cursor.log;
    for (let failedAttempts = 1; ; failedAttempts++) {
      try {
        // A copy, so that a handler that changes the array cannot change what a redelivery sends.
        await member.options.handleBatch({ topic, partition, records: [...records] });
        return true;
      } catch (error) {
        const retryDelayMs = redeliveryDelayMs(this.context.redelivery, failedAttempts);
        this.context.logger.warn(
          {
            err: error,
            groupId: this.groupId,
            topic,
            partition,
            firstOffset: records[0]?.offset,
            lastOffset: records.at(-1)?.offset,
            failedAttempts,
            retryDelayMs,
          },
          'batch handler failed, delivering the batch again',
        );
        if (!(await sleepUnlessAborted(retryDelayMs, member.stopController.signal))) {
          return false;
        }
      }
    }
  }

  private commit(cursor: PartitionCursor, records: DeliveredRecord[]): void {
    const last = records.at(-1);
    if (last === undefined) {
      return;
    }
    cursor.position = Number(last.offset) + 1;
    this.committed.set(offsetKey(cursor.log.topic, cursor.log.partition), cursor.position);
  }
}

function offsetKey(topic: string, partition: number): string {
  // Topic names cannot contain a space, so the key is unambiguous.
  return `${topic} ${partition}`;
}
