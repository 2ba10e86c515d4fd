import { Kafka, Partitioners, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { BusError, describeError, isRetriableKafkaError } from './errors';
import { validateSubscribeOptions, type BusRecord, type EventBus, type SubscribeOptions, type Subscription } from './event-bus';
import { createKafkaLogCreator, kafkaLogLevelFor } from './kafka-log';
import { resolveKafkaBusOptions, type KafkaBusOptions, type KafkaBusSettings } from './kafka-options';
import { KafkaSubscription } from './kafka-subscription';

/** Produce acknowledgement from all in-sync replicas. */
const ACKS_ALL = -1;

/**
 * `EventBus` over Kafka with kafkajs 2.2: one shared producer, connected on
 * the first `produce`, and one consumer per `subscribe`.
 */
export class KafkaBus implements EventBus {
  private readonly settings: KafkaBusSettings;
  private readonly logger: Logger;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private producerConnection: Promise<void> | undefined;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private closing: Promise<void> | undefined;

  /** Validates the options and throws a `BusError` naming the first invalid one. Opens no connection. */
  constructor(options: KafkaBusOptions) {
    this.settings = resolveKafkaBusOptions(options);
    this.logger = options.logger.child({ component: 'kafka-bus' });
    this.kafka = new Kafka({
      brokers: this.settings.brokers,
      clientId: this.settings.clientId,
      retry: this.settings.retry,
      logLevel: kafkaLogLevelFor(options.logger),
      logCreator: createKafkaLogCreator(options.logger),
    });
    // NOTE: the producer is not idempotent, so a retried request can write
    // records twice. kafkajs 2.2 marks idempotence as experimental, and its
    // idempotent producer fails to connect to the librdkafka 2.0.2 mock cluster
    // of the tests ("Broker 0 not found in the cached metadata" while it looks
    // up the controller). One request in flight per broker keeps a retry from
    // reordering the records of one key.
    this.producer = this.kafka.producer({
      // Kafka's murmur2 key hash, which keeps one key, and so one session, on one partition.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      maxInFlightRequests: 1,
      idempotent: false,
    });
  }

  async produce(topic: string, records: BusRecord[]): Promise<void> {
    this.rejectIfClosed('produce');
    if (records.length === 0) {
      return;
    }
    await this.connectProducer();
    try {
      await this.producer.send({ topic, acks: ACKS_ALL, messages: records.map(toKafkaMessage) });
    } catch (error) {
      throw new BusError(
        'BUS_ERR_PRODUCE_FAILED',
        `producing ${records.length} records to topic "${topic}" failed: ${describeError(error)}`,
        { retriable: isRetriableKafkaError(error), cause: error },
      );
    }
  }

  /**
   * Connects the producer, which `produce` would do on its first call, and rejects with
   * `BUS_ERR_CONNECT_FAILED` when no broker accepts the connection after the retries. A process
   * calls it at start, so an unreachable KAFKA_BROKERS fails before slower start steps.
   */
  async connect(): Promise<void> {
    this.rejectIfClosed('connect');
    try {
      await this.connectProducer();
    } catch (error) {
      const cause = error instanceof BusError && error.cause !== undefined ? error.cause : error;
      throw new BusError('BUS_ERR_CONNECT_FAILED', `connecting to the Kafka brokers ${this.settings.brokers.join(',')} failed: ${describeError(cause)}`, {
        retriable: true,
        cause,
      });
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    validateSubscribeOptions(options);
    this.rejectIfClosed('subscribe');
    const timing = this.settings.consumer;
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: timing.sessionTimeoutMs,
      rebalanceTimeout: timing.rebalanceTimeoutMs,
      heartbeatInterval: timing.heartbeatIntervalMs,
      maxWaitTimeInMs: timing.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      // kafkajs replaces the client's retry policy with its own default for consumers unless one is passed.
      ...(this.settings.retry === undefined ? {} : { retry: this.settings.retry }),
    });
    const subscription = new KafkaSubscription(
      consumer,
      options,
      {
        heartbeatIntervalMs: timing.heartbeatIntervalMs,
        partitionsConsumedConcurrently: timing.partitionsConsumedConcurrently,
        maxBatchRecords: timing.maxBatchRecords,
        groupJoinTimeoutMs: timing.groupJoinTimeoutMs,
        redelivery: this.settings.redelivery,
      },
      this.logger,
      (stopped) => this.subscriptions.delete(stopped),
    );
    this.subscriptions.add(subscription);
    await subscription.start();
    return subscription;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /** Stops the consumers first, because their handlers may still produce, then disconnects the producer. */
  private async shutDown(): Promise<void> {
    const stops = await Promise.allSettled([...this.subscriptions].map((subscription) => subscription.stop()));
    for (const stop of stops) {
      if (stop.status === 'rejected') {
        this.logger.error({ err: stop.reason }, 'stopping consumer failed during close');
      }
    }
    const connection = this.producerConnection;
    if (connection !== undefined && (await connection.then(() => true, () => false))) {
      await this.producer.disconnect();
    }
    this.logger.info({ clientId: this.settings.clientId }, 'kafka bus closed');
  }

  private connectProducer(): Promise<void> {
    this.producerConnection ??= this.producer.connect().catch((error: unknown) => {
      // The next produce call tries again.
      this.producerConnection = undefined;
      throw new BusError(
        'BUS_ERR_PRODUCE_FAILED',
        `connecting the Kafka producer to ${this.settings.brokers.join(',')} failed: ${describeError(error)}`,
        { retriable: true, cause: error },
      );
    });
    return this.producerConnection;
  }

  private rejectIfClosed(operation: string): void {
    if (this.closing !== undefined) {
      throw new BusError('BUS_ERR_CLOSED', `cannot ${operation}: the Kafka bus was closed`);
    }
  }
}

function toKafkaMessage(record: BusRecord): Message {
  return record.headers === undefined
    ? { key: record.key, value: record.value }
    : { key: record.key, value: record.value, headers: { ...record.headers } };
}
