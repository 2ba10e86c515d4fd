import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { BusError, describeError, isRetriableKafkaError } from './errors';
import type { DeliveredRecord, RecordBatch, SubscribeOptions, Subscription } from './event-bus';
import { PartitionQueue } from './partition-queue';
import { Semaphore } from './semaphore';
import { redeliveryDelayMs, sleepUnlessAborted, type RedeliveryBackoff } from './redelivery-backoff';

export interface KafkaSubscriptionSettings {
  heartbeatIntervalMs: number;
  partitionsConsumedConcurrently: number;
  maxBatchRecords: number;
  groupJoinTimeoutMs: number;
  redelivery: RedeliveryBackoff;
}

interface JoinWaiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * One kafkajs consumer running `options.handleBatch` with commit after success: a partition's
 * offsets are committed only after the handler resolved for every record up to them, and a failed
 * batch is retried in place.
 *
 * kafkajs 2.2.4 fetches a broker's partitions again only after the `eachBatch` calls of the last
 * fetch returned. So that records arriving during a handler call do not wait for that call, its
 * commit and a new fetch, `eachBatch` only queues the batch per partition (`PartitionQueue`) and
 * moves kafkajs' fetch position past it. A drain loop per partition hands the queued records to the
 * handler, merged into calls of up to `maxBatchRecords`, and chains the commit of each call after
 * it without waiting for it. At most `partitionsConsumedConcurrently` calls run at once. With
 * autoCommit off, kafkajs commits no offset of its own, so the fetch position running ahead never
 * reaches the group's committed offset.
 */
export class KafkaSubscription implements Subscription {
  private readonly logger: Logger;
  private readonly stopSignal = new AbortController();
  private joinWaiter: JoinWaiter | undefined;
  private stopping: Promise<void> | undefined;
  /** Crashes that kafkajs does not restart from, in a row since the last group join. */
  private unrestartedCrashes = 0;
  /** The fetched records waiting for the handler, by topic and partition. */
  private readonly queues = new Map<string, PartitionQueue>();
  /** Permits for handler calls, `partitionsConsumedConcurrently` of them across all partitions. */
  private readonly handlerCalls: Semaphore;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: SubscribeOptions,
    private readonly settings: KafkaSubscriptionSettings,
    logger: Logger,
    private readonly onStopped: (subscription: KafkaSubscription) => void,
  ) {
    this.logger = logger.child({ groupId: options.groupId });
    this.handlerCalls = new Semaphore(settings.partitionsConsumedConcurrently);
    this.listenToConsumerEvents();
  }

  /**
   * Connects, subscribes and runs the consumer, and resolves after its first
   * group join. On failure it disconnects the consumer and rejects with a
   * `BusError`.
   */
  async start(): Promise<void> {
    const joined = this.waitForFirstJoin();
    // A crash or a stop can reject `joined` while connect is still pending.
    joined.catch(() => {});
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning });
      await this.runConsumer();
      await joined;
    } catch (error) {
      await this.stop().catch((stopError: unknown) => {
        this.logger.error({ err: stopError }, 'consumer disconnect failed after subscribe failed');
      });
      throw toSubscribeError(this.options, error);
    }
  }

  private runConsumer(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.processBatch(payload),
    });
  }

  /** Leaves the group. Takes no `StopOptions`, because records not yet handled stay in Kafka uncommitted and need no drain. */
  stop(): Promise<void> {
    this.stopping ??= this.disconnect();
    return this.stopping;
  }

  private async disconnect(): Promise<void> {
    this.stopSignal.abort();
    this.joinWaiter?.reject(
      new BusError('BUS_ERR_CLOSED', `subscription of group "${this.options.groupId}" was stopped before it joined the group`),
    );
    try {
      // The records waiting in the queues are dropped uncommitted, and the handler calls in flight
      // finish and are committed before the member leaves the group.
      this.retireQueues();
      await this.queuesIdle();
      // kafkajs stops fetching and leaves the group.
      await this.consumer.disconnect();
      this.logger.info({ topics: this.options.topics }, 'consumer stopped');
    } finally {
      this.onStopped(this);
    }
  }

  private waitForFirstJoin(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiter.reject(
          new BusError(
            'BUS_ERR_SUBSCRIBE_FAILED',
            `consumer group "${this.options.groupId}" was not joined within ${this.settings.groupJoinTimeoutMs} ms: ` +
              'the brokers were unreachable, or a rebalance did not settle within that time, ' +
              'for example because the coordinator waited out the session timeout of a member that left without leaving the group, ' +
              'or rejected JoinGroup or SyncGroup requests again and again; ' +
              'the kafkajs logs name the failed requests, and the consumer timings to check are the session timeout, the heartbeat interval and the rebalance timeout',
            { retriable: true },
          ),
        );
      }, this.settings.groupJoinTimeoutMs);
      const settle = (): void => {
        clearTimeout(timer);
        this.joinWaiter = undefined;
      };
      const waiter: JoinWaiter = {
        resolve: () => {
          settle();
          resolve();
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      this.joinWaiter = waiter;
    });
  }

  private listenToConsumerEvents(): void {
    const { events } = this.consumer;
    this.consumer.on(events.GROUP_JOIN, ({ payload }) => {
      this.logger.info(
        { memberId: payload.memberId, isLeader: payload.isLeader, assignment: payload.memberAssignment, durationMs: payload.duration },
        'consumer joined group',
      );
      this.unrestartedCrashes = 0;
      // After a join kafkajs fetches every assigned partition from its committed offset, which
      // returns the queued records again, or gives them to another member.
      this.retireQueues();
      this.joinWaiter?.resolve();
    });
    this.consumer.on(events.REBALANCING, ({ payload }) => {
      this.logger.warn({ memberId: payload.memberId }, 'consumer group is rebalancing');
    });
    this.consumer.on(events.CRASH, ({ payload }) => {
      if (payload.restart) {
        this.logger.warn({ err: payload.error }, 'consumer crashed, kafkajs restarts it');
        return;
      }
      // kafkajs leaves the consumer stopped after an error it deems non-retriable, such as the
      // INVALID_REQUEST that the librdkafka 2.0.2 mock returns to a SyncGroup during a rebalance.
      // A subscription that stopped would leave the process running without consuming, so it runs
      // the consumer again after the redelivery backoff until it stops or, before the first join,
      // until the join timeout rejects `start`.
      this.unrestartedCrashes += 1;
      const retryDelayMs = redeliveryDelayMs(this.settings.redelivery, this.unrestartedCrashes);
      this.logger.error({ err: payload.error, topics: this.options.topics, retryDelayMs }, 'consumer crashed, running it again');
      void this.runAgainAfter(retryDelayMs);
    });
  }

  /** Runs the crashed consumer again after `delayMs`, unless the subscription stops first. */
  private async runAgainAfter(delayMs: number): Promise<void> {
    if (!(await sleepUnlessAborted(delayMs, this.stopSignal.signal))) {
      return;
    }
    try {
      await this.consumer.connect();
      await this.runConsumer();
    } catch (error) {
      // The next crash event, if any, schedules another attempt; a failure here raises none.
      this.unrestartedCrashes += 1;
      const retryDelayMs = redeliveryDelayMs(this.settings.redelivery, this.unrestartedCrashes);
      this.logger.error({ err: error, topics: this.options.topics, retryDelayMs }, 'running the consumer again failed');
      void this.runAgainAfter(retryDelayMs);
    }
  }

  /**
   * Queues a fetched batch for the handler and returns, so that kafkajs fetches the partition's next
   * records meanwhile. It waits only while the partition has `maxBatchRecords` records queued.
   */
  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) {
      return;
    }
    if (this.stopSignal.signal.aborted) {
      // The records stay uncommitted for the partition's next owner. Holding this call until the
      // handler calls in flight finished keeps kafkajs from fetching the same records again and again.
      await this.queuesIdle();
      return;
    }
    const queue = this.queueFor(batch.topic, batch.partition);
    const records = batch.messages.map((message) => toDeliveredRecord(batch.topic, batch.partition, message));
    const dropped = queue.append(records);
    if (dropped > 0) {
      this.logger.warn({ topic: batch.topic, partition: batch.partition, dropped }, 'fetched records were queued already and are skipped');
    }
    // The next fetch starts after these records. Only the commits after the handler calls move the group's offset.
    payload.resolveOffset(batch.messages[batch.messages.length - 1]?.offset as string);
    queue.draining ??= this.drain(queue, payload);
    await queue.waitForRoom();
  }

  /** Returns the current queue of a partition, replacing a retired one after its work. */
  private queueFor(topic: string, partition: number): PartitionQueue {
    const key = `${topic}\u0000${partition}`;
    const existing = this.queues.get(key);
    if (existing !== undefined && !existing.retired) {
      return existing;
    }
    // A replaced queue may still run a handler call, so the new one starts after it and two calls of one partition never overlap.
    const queue = new PartitionQueue(topic, partition, this.settings.maxBatchRecords, existing?.idle());
    this.queues.set(key, queue);
    return queue;
  }

  private retireQueues(): void {
    for (const queue of this.queues.values()) {
      queue.retire();
    }
  }

  private async queuesIdle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.idle()));
  }

  /**
   * Hands the queue's records to the handler until the queue is empty or retired, and chains the
   * commit of each successful call. `payload` supplies the heartbeats and the commits.
   */
  private async drain(queue: PartitionQueue, payload: EachBatchPayload): Promise<void> {
    await queue.previous;
    const unhandled: { offset: string | undefined } = { offset: undefined };
    try {
      while (queue.length > 0 && !queue.retired) {
        if (!(await this.handleNext(queue, payload, unhandled))) {
          // Stopping: the offsets stay uncommitted, so the next owner of the partition receives these records again.
          queue.retire();
          break;
        }
      }
    } catch (error) {
      // A heartbeat between attempts failed, for example because the group is rebalancing.
      this.logger.warn({ err: error, topic: queue.topic, partition: queue.partition, offset: unhandled.offset }, 'batch redelivery stopped by a failed heartbeat');
      this.fetchAgainFrom(queue, unhandled.offset);
    } finally {
      queue.draining = undefined;
    }
  }

  /**
   * Retires the queue and moves kafkajs' fetch position of its partition back to `offset`, the
   * first record not handled, so that no later commit of the partition passes over records that
   * were never handled. After a group join kafkajs fetches from the committed offset instead.
   */
  private fetchAgainFrom(queue: PartitionQueue, offset: string | undefined): void {
    queue.retire();
    if (offset === undefined) {
      return;
    }
    try {
      // With autoCommit off, kafkajs 2.2.4 only moves the fetch position on a seek and commits nothing.
      this.consumer.seek({ topic: queue.topic, partition: queue.partition, offset });
    } catch (error) {
      this.logger.error({ err: error, topic: queue.topic, partition: queue.partition, offset }, 'moving the fetch position back failed; the partition continues after the records not handled until the next group join');
    }
  }

  /**
   * Takes the queued records, once a handler call is free, and passes them to the handler until it
   * succeeds, then chains their commit. Returns false when the subscription stops between attempts.
   * `unhandled.offset` is the first offset of the call while it runs.
   */
  private async handleNext(queue: PartitionQueue, payload: EachBatchPayload, unhandled: { offset: string | undefined }): Promise<boolean> {
    await this.handlerCalls.acquire();
    try {
      // The wait for a permit may have outlasted the queue, or let more records arrive for this call.
      if (queue.retired || queue.length === 0) {
        return true;
      }
      const batch: RecordBatch = { topic: queue.topic, partition: queue.partition, records: queue.take() };
      unhandled.offset = batch.records[0]?.offset;
      if (!(await this.handleUntilSuccess(batch, payload))) {
        return false;
      }
      unhandled.offset = undefined;
      const offset = (BigInt((batch.records.at(-1) as DeliveredRecord).offset) + 1n).toString();
      queue.commits = queue.commits.then(() => this.commit(payload, queue, offset));
      return true;
    } finally {
      this.handlerCalls.release();
    }
  }

  /**
   * Commits `offset` for the queue's partition. A failure is logged, not raised: a later commit of
   * the partition covers these records, and without one the partition's next owner receives them
   * again, which the at-least-once contract allows.
   */
  private async commit(payload: EachBatchPayload, queue: PartitionQueue, offset: string): Promise<void> {
    try {
      await payload.commitOffsetsIfNecessary({ topics: [{ topic: queue.topic, partitions: [{ partition: queue.partition, offset }] }] });
    } catch (error) {
      this.logger.warn({ err: error, topic: queue.topic, partition: queue.partition, offset }, 'offset commit failed; the records after the last committed offset may be delivered again');
    }
  }

  /** Calls the handler until it succeeds. Returns false when the subscription stops between attempts. */
  private async handleUntilSuccess(batch: RecordBatch, payload: EachBatchPayload): Promise<boolean> {
    for (let failedAttempts = 1; ; failedAttempts++) {
      try {
        await this.options.handleBatch(batch);
        return true;
      } catch (error) {
        const retryDelayMs = redeliveryDelayMs(this.settings.redelivery, failedAttempts);
        this.logger.warn(
          {
            err: error,
            topic: batch.topic,
            partition: batch.partition,
            firstOffset: batch.records[0]?.offset,
            lastOffset: batch.records.at(-1)?.offset,
            failedAttempts,
            retryDelayMs,
          },
          'batch handler failed, delivering the batch again',
        );
        if (!(await this.waitWithHeartbeats(retryDelayMs, payload))) {
          return false;
        }
      }
    }
  }

  /**
   * Waits `delayMs`, sending heartbeats so that the coordinator does not
   * evict this member meanwhile. Returns false when the subscription stops
   * first. A heartbeat that reports a rebalance throws, and kafkajs then
   * rejoins the group.
   */
  private async waitWithHeartbeats(delayMs: number, payload: EachBatchPayload): Promise<boolean> {
    let remainingMs = delayMs;
    while (remainingMs > 0) {
      const sliceMs = Math.min(remainingMs, this.settings.heartbeatIntervalMs);
      const slept = await sleepUnlessAborted(sliceMs, this.stopSignal.signal);
      if (!slept || !payload.isRunning()) {
        return false;
      }
      await payload.heartbeat();
      remainingMs -= sliceMs;
    }
    return true;
  }
}

function toSubscribeError(options: SubscribeOptions, error: unknown): BusError {
  if (error instanceof BusError) {
    return error;
  }
  return new BusError(
    'BUS_ERR_SUBSCRIBE_FAILED',
    `subscribing group "${options.groupId}" to topics ${options.topics.join(', ')} failed: ${describeError(error)}`,
    { retriable: isRetriableKafkaError(error), cause: error },
  );
}

function toDeliveredRecord(topic: string, partition: number, message: KafkaMessage): DeliveredRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value,
    headers: decodeHeaders(message.headers),
    timestampMs: Number(message.timestamp),
  };
}

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    // kafkajs returns an array when a record repeats a header name.
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) {
      entries.push([name, typeof last === 'string' ? last : last.toString('utf8')]);
    }
  }
  // fromEntries defines own properties, so a header named "__proto__" stays a plain entry.
  return Object.fromEntries(entries);
}
