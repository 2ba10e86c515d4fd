import type { Logger } from 'pino';
import { BusError } from './errors';
import { validateSubscribeOptions, type BusRecord, type EventBus, type SubscribeOptions, type Subscription } from './event-bus';
import { ConsumerGroup, InProcessSubscription, type GroupContext } from './in-process-group';
import { partitionForKey } from './partitioner';
import { PartitionLog } from './partition-log';
import { resolveRedeliveryBackoff, type RedeliveryBackoffOptions } from './redelivery-backoff';
import { TOPIC_NAME_PATTERN } from './topics';

export interface InProcessTopic {
  name: string;
  /** Partition count. Default 1. */
  partitions?: number;
}

export interface InProcessBusOptions {
  /** Receives redelivery and retention warnings. */
  logger: Logger;
  /** Topics created by the constructor. */
  topics?: InProcessTopic[];
  /** Records kept per partition. Beyond it the oldest are dropped, even if a group has not read them. Default 1_000_000. */
  maxRecordsPerPartition?: number;
  /** Maximum number of records in one delivered batch. Default 500. */
  maxBatchSize?: number;
  /** Backoff before a batch whose handler failed is delivered again. */
  redelivery?: RedeliveryBackoffOptions;
}

const DEFAULT_MAX_RECORDS_PER_PARTITION = 1_000_000;
const DEFAULT_MAX_BATCH_SIZE = 500;

interface TopicState {
  partitions: PartitionLog[];
  /** Partition of the next record without a key, which go round-robin over the partitions. */
  nextUnkeyedPartition: number;
}

/**
 * `EventBus` in memory, for the embedded mode and tests. It has the
 * semantics of `KafkaBus`: partitions chosen by the same key hash as Kafka's
 * default partitioner, consumer groups with committed offsets, batches
 * delivered on the next turn of the event loop after `produce`, and
 * redelivery with backoff. Nothing survives the process, so a process that
 * exits stops its subscriptions with `drain` to handle what was produced.
 */
export class InProcessBus implements EventBus {
  private readonly logger: Logger;
  private readonly maxRecordsPerPartition: number;
  private readonly topics = new Map<string, TopicState>();
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly groupContext: GroupContext;
  private dispatchScheduled = false;
  private closing: Promise<void> | undefined;

  /** Validates the options and creates `options.topics`. Throws a `BusError` naming an invalid option. */
  constructor(options: InProcessBusOptions) {
    this.logger = options.logger.child({ component: 'in-process-bus' });
    this.maxRecordsPerPartition = positiveInteger('maxRecordsPerPartition', options.maxRecordsPerPartition ?? DEFAULT_MAX_RECORDS_PER_PARTITION);
    this.groupContext = {
      partitionLogs: (topic) => this.requireTopic(topic).partitions,
      scheduleDispatch: () => this.scheduleDispatch(),
      logger: this.logger,
      redelivery: resolveRedeliveryBackoff(options.redelivery),
      maxBatchSize: positiveInteger('maxBatchSize', options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
    };
    for (const topic of options.topics ?? []) {
      this.createTopic(topic.name, topic.partitions);
    }
  }

  /** Creates a topic. Does nothing when it exists with the same partition count, and throws when the count differs. */
  createTopic(name: string, partitions = 1): void {
    // Kafka's rule, so that names valid in the embedded mode are valid in Kafka too.
    if (!TOPIC_NAME_PATTERN.test(name)) {
      throw new BusError(
        'BUS_ERR_INVALID_ARGUMENT',
        `invalid topic name "${name}": use 1 to 249 characters from a-z, A-Z, 0-9, ".", "_" and "-"`,
      );
    }
    positiveInteger(`partition count of topic "${name}"`, partitions);
    const existing = this.topics.get(name);
    if (existing !== undefined) {
      if (existing.partitions.length !== partitions) {
        throw new BusError(
          'BUS_ERR_INVALID_ARGUMENT',
          `topic "${name}" already exists with ${existing.partitions.length} partitions, not ${partitions}`,
        );
      }
      return;
    }
    const logs = Array.from({ length: partitions }, (_, partition) => new PartitionLog(name, partition, this.maxRecordsPerPartition));
    this.topics.set(name, { partitions: logs, nextUnkeyedPartition: 0 });
  }

  async produce(topic: string, records: BusRecord[]): Promise<void> {
    this.rejectIfClosed('produce');
    const state = this.requireTopic(topic);
    const timestampMs = Date.now();
    for (const record of records) {
      const partitionCount = state.partitions.length;
      let partition: number;
      if (record.key === null) {
        partition = state.nextUnkeyedPartition;
        state.nextUnkeyedPartition = (partition + 1) % partitionCount;
      } else {
        partition = partitionForKey(record.key, partitionCount);
      }
      state.partitions[partition]?.append(record, timestampMs);
    }
    if (records.length > 0) {
      this.scheduleDispatch();
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    validateSubscribeOptions(options);
    this.rejectIfClosed('subscribe');
    for (const topic of options.topics) {
      this.requireTopic(topic);
    }
    const group = this.groups.get(options.groupId) ?? new ConsumerGroup(options.groupId, this.groupContext);
    this.groups.set(options.groupId, group);
    const member = new InProcessSubscription(options, (leaving, stopOptions) => group.leave(leaving, stopOptions));
    group.join(member);
    return member;
  }

  /** Returns the offset that `groupId` reads next from the partition after its last commit, or undefined before its first commit. */
  committedOffset(groupId: string, topic: string, partition: number): string | undefined {
    const offset = this.groups.get(groupId)?.committedOffset(topic, partition);
    return offset === undefined ? undefined : String(offset);
  }

  close(): Promise<void> {
    this.closing ??= this.stopAllMembers();
    return this.closing;
  }

  private async stopAllMembers(): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const group of this.groups.values()) {
      stops.push(group.stopAll());
    }
    await Promise.all(stops);
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) {
      return;
    }
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      for (const group of this.groups.values()) {
        group.dispatch();
      }
    });
  }

  private requireTopic(topic: string): TopicState {
    const state = this.topics.get(topic);
    if (state === undefined) {
      throw new BusError('BUS_ERR_UNKNOWN_TOPIC', `topic "${topic}" does not exist; create it with createTopic or the topics option`);
    }
    return state;
  }

  private rejectIfClosed(operation: string): void {
    if (this.closing !== undefined) {
      throw new BusError('BUS_ERR_CLOSED', `cannot ${operation}: the in-process bus was closed`);
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new BusError('BUS_ERR_INVALID_ARGUMENT', `invalid ${name} ${value}: expected a positive integer`);
  }
  return value;
}
