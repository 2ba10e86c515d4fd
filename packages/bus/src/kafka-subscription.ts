import type { Batch, Consumer, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { BusError, describeError, isRetriableKafkaError } from './errors';
import type { DeliveredRecord, RecordBatch, SubscribeOptions, Subscription } from './event-bus';
import { redeliveryDelayMs, sleepUnlessAborted, type RedeliveryBackoff } from './redelivery-backoff';

export interface KafkaSubscriptionSettings {
  heartbeatIntervalMs: number;
  partitionsConsumedConcurrently: number;
  groupJoinTimeoutMs: number;
  redelivery: RedeliveryBackoff;
}

interface JoinWaiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * One kafkajs consumer running `options.handleBatch` with commit after
 * success: offsets are resolved and committed only after the handler
 * resolved for the whole batch, and a failed batch is retried in place.
 */
export class KafkaSubscription implements Subscription {
  private readonly logger: Logger;
  private readonly stopSignal = new AbortController();
  private joinWaiter: JoinWaiter | undefined;
  private stopping: Promise<void> | undefined;
  /** Crashes that kafkajs does not restart from, in a row since the last group join. */
  private unrestartedCrashes = 0;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: SubscribeOptions,
    private readonly settings: KafkaSubscriptionSettings,
    logger: Logger,
    private readonly onStopped: (subscription: KafkaSubscription) => void,
  ) {
    this.logger = logger.child({ groupId: options.groupId });
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
      // kafkajs stops fetching, waits for the batch in flight and leaves the group.
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
            `consumer group "${this.options.groupId}" was not joined within ${this.settings.groupJoinTimeoutMs} ms; ` +
              'check that the brokers are reachable and the kafkajs logs for the cause',
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

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const batch = toRecordBatch(payload.batch);
    if (batch.records.length === 0) {
      return;
    }
    const handled = await this.handleUntilSuccess(batch, payload);
    if (!handled) {
      // Stopping: the offsets stay unresolved, so the next owner of the partition receives these records again.
      return;
    }
    for (const record of batch.records) {
      payload.resolveOffset(record.offset);
    }
    // autoCommit is off, so only this explicit commit moves the group's offset.
    await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets());
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

function toRecordBatch(batch: Batch): RecordBatch {
  return {
    topic: batch.topic,
    partition: batch.partition,
    records: batch.messages.map((message) => toDeliveredRecord(batch.topic, batch.partition, message)),
  };
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
