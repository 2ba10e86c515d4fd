import { BusError } from './errors';

/** A record to produce. */
export interface BusRecord {
  /**
   * Partitioning key. Records with the same key go to the same partition and
   * keep their produce order. A null key spreads records over the partitions.
   */
  key: string | null;
  /** Payload. A string is encoded as UTF-8. */
  value: Buffer | string;
  headers?: Record<string, string>;
}

/** A record as a consumer receives it. Treat it as read-only, because other groups may receive the same object. */
export interface DeliveredRecord {
  topic: string;
  partition: number;
  /** Position in the partition, a decimal integer as a string, like kafkajs offsets. */
  offset: string;
  key: string | null;
  value: Buffer | null;
  /** Header values decoded as UTF-8. When a Kafka record repeats a header name, the last value wins. */
  headers: Record<string, string>;
  /** Creation time in epoch milliseconds, set by the producer. */
  timestampMs: number;
}

/** Consecutive records of one topic-partition, in offset order. */
export interface RecordBatch {
  topic: string;
  partition: number;
  records: DeliveredRecord[];
}

export interface SubscribeOptions {
  /** Consumer group. Members of one group share the partitions and the committed offsets. */
  groupId: string;
  topics: string[];
  /**
   * Start position of a group without a committed offset for a partition:
   * the oldest retained record when true, the end of the log when false.
   * A committed offset always takes precedence. `KafkaBus` looks the end up
   * at its first fetch after the join, a moment after `subscribe` resolved,
   * so records produced in between may be skipped when this is false.
   */
  fromBeginning: boolean;
  /**
   * Processes one batch. The bus commits the batch's offsets only after the
   * returned promise resolves. When it rejects, nothing of the batch is
   * committed and the same records are delivered again after a backoff, with
   * no limit on the attempts. The handler must therefore quarantine records
   * that can never succeed instead of throwing on them.
   *
   * Calls for one partition never overlap and come in offset order, and
   * while a failed batch waits for its redelivery its partition receives no
   * other batch. Calls for different partitions may overlap. A record can be
   * delivered more than once, for example after a crash or a rebalance
   * between the handler's success and the commit, so the handler must
   * tolerate duplicates.
   */
  handleBatch(batch: RecordBatch): Promise<void>;
}

/** Options of `Subscription.stop`. */
export interface StopOptions {
  /**
   * Whether the member first handles the records that are already in its
   * partitions. `InProcessBus` then delivers every record produced to the
   * member's partitions before `stop` was called, redelivering a failed
   * batch with backoff, and commits them before the member leaves. `KafkaBus`
   * ignores it, because uncommitted records stay in Kafka. Default false.
   */
  drain?: boolean;
  /**
   * Ends a drain early. On abort the member logs a warning with the number
   * of records it leaves uncommitted and stops as without `drain`. Without a
   * signal a drain lasts until every record was handled, which never happens
   * while the handler keeps failing.
   */
  signal?: AbortSignal;
}

export interface Subscription {
  /**
   * Leaves the consumer group. Waits for the batch in flight, whose offsets
   * are committed if its handler succeeds, and delivers no batch afterwards
   * unless `options.drain` is set. Calling it again returns the same promise
   * and ignores the new options.
   *
   * The records not handled by then survive differently on each bus. On
   * `KafkaBus` they stay in Kafka, and the group's next member receives them
   * from the committed offset, also in a later process. On `InProcessBus` the
   * group's other members take them over, but the log lives in the process's
   * memory, so they are lost when the process exits. A process that stops
   * for good passes `drain` and bounds it with `signal`.
   */
  stop(options?: StopOptions): Promise<void>;
}

/**
 * A partitioned, append-only message log with consumer groups, implemented
 * over Kafka (`KafkaBus`) and in memory for the embedded mode (`InProcessBus`).
 * Delivery is at least once: per partition in offset order, with offsets
 * committed after the handler succeeds.
 */
export interface EventBus {
  /**
   * Appends records to `topic`. Resolves after the broker acknowledged every
   * record with acks=all, and rejects with a `BusError` otherwise, in which
   * case some of the records may have been written. Records with the same
   * key keep their order, also across calls when the caller awaits each call.
   */
  produce(topic: string, records: BusRecord[]): Promise<void>;
  /**
   * Starts a consumer group member for `options.topics` and resolves once it
   * has joined the group and received its partitions.
   */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /**
   * Stops every subscription as `stop()` without options does, unless it is
   * already stopping, then releases the producer. Calling it again returns
   * the same promise. `produce` and `subscribe` reject afterwards.
   */
  close(): Promise<void>;
}

/** Throws a `BusError` naming the first invalid field of `options`. */
export function validateSubscribeOptions(options: SubscribeOptions): void {
  if (options.groupId.length === 0) {
    throw new BusError('BUS_ERR_INVALID_ARGUMENT', 'invalid subscribe options: groupId is empty; pass a consumer group name');
  }
  if (options.topics.length === 0) {
    throw new BusError(
      'BUS_ERR_INVALID_ARGUMENT',
      `invalid subscribe options for group "${options.groupId}": topics is empty; pass at least one topic`,
    );
  }
  const emptyTopic = options.topics.findIndex((topic) => topic.length === 0);
  if (emptyTopic !== -1) {
    throw new BusError(
      'BUS_ERR_INVALID_ARGUMENT',
      `invalid subscribe options for group "${options.groupId}": topics[${emptyTopic}] is an empty string`,
    );
  }
}
