import type { Logger } from 'pino';
import type { DeliveredRecord, SubscribeOptions, Subscription } from './event-bus';
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
  /** Index into this member's partitions where the next dispatch starts looking, for fairness. */
  nextCursorIndex = 0;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly options: SubscribeOptions,
    private readonly leave: (member: InProcessSubscription) => Promise<void>,
  ) {
    this.topics = [...new Set(options.topics)];
  }

  stop(): Promise<void> {
    this.stopping ??= this.leave(this);
    return this.stopping;
  }
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
   * Removes a member and waits for its delivery in flight. Cursors of topics
   * that no member reads any more are dropped, so a later member starts
   * again from the committed offset or per `fromBeginning`, as in Kafka.
   */
  async leave(member: InProcessSubscription): Promise<void> {
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

  /** Stops every member and waits for their deliveries in flight. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.members].map((member) => member.stop()));
  }

  /** Starts one batch for every idle member that owns a partition with records to deliver. */
  dispatch(): void {
    for (const member of this.members) {
      if (member.running && member.inFlight === undefined) {
        this.dispatchTo(member);
      }
    }
  }

  private dispatchTo(member: InProcessSubscription): void {
    const owned = this.cursorsOwnedBy(member);
    for (let step = 0; step < owned.length; step++) {
      const index = (member.nextCursorIndex + step) % owned.length;
      const cursor = owned[index];
      const records = cursor === undefined ? undefined : this.nextBatch(cursor);
      if (cursor !== undefined && records !== undefined) {
        member.nextCursorIndex = index + 1;
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

  /** Returns the records to deliver next from `cursor`, or undefined when it is busy or caught up. */
  private nextBatch(cursor: PartitionCursor): DeliveredRecord[] | undefined {
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
    const records = log.read(cursor.position, this.context.maxBatchSize);
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
