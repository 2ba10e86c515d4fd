import type { RetryOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { brokerAddressProblem } from './broker-address';
import { BusError } from './errors';
import { resolveRedeliveryBackoff, type RedeliveryBackoff, type RedeliveryBackoffOptions } from './redelivery-backoff';

/** Consumer group timing of `KafkaBus`. */
export interface KafkaConsumerOptions {
  /**
   * Milliseconds without a heartbeat after which the group coordinator
   * evicts a member and moves its partitions. kafkajs sends heartbeats
   * between batches, not during a handler call, so a handler call longer
   * than this loses the partitions and its batch is delivered again.
   * Default 30_000 (kafkajs).
   */
  sessionTimeoutMs?: number;
  /** Milliseconds the coordinator waits for members to rejoin during a rebalance. Default 60_000 (kafkajs). */
  rebalanceTimeoutMs?: number;
  /** Milliseconds between heartbeats. Must be less than `sessionTimeoutMs`. Default 3_000 (kafkajs). */
  heartbeatIntervalMs?: number;
  /**
   * Milliseconds a fetch waits on the broker when no record is available.
   * Stopping a consumer waits for the open fetch, so this bounds the stop
   * time. Default 1_000, below kafkajs' 5_000.
   */
  maxWaitTimeMs?: number;
  /**
   * Milliseconds `subscribe` waits for the first group join before it
   * rejects. Default `rebalanceTimeoutMs + sessionTimeoutMs`, because a join
   * can wait up to the session timeout for the coordinator to evict a member
   * that died without leaving, then up to the rebalance timeout for the
   * remaining members to rejoin.
   */
  groupJoinTimeoutMs?: number;
  /**
   * Batches of different partitions that one consumer hands to its handler at the same time. A
   * key (a session) stays on one partition, so concurrent batches never share a key, and the
   * handler's store work overlaps with the next batch's decoding. Default 3.
   */
  partitionsConsumedConcurrently?: number;
  /**
   * Max records passed to one handler call. The consumer fetches a partition's next records while
   * the handler runs, and the next call takes all that arrived meanwhile, up to this count. A larger
   * fetched batch is split. Fetching a partition pauses while this many of its records wait.
   * Redis runs one batch's script without serving other clients, so this also bounds that pause:
   * about 5 ms for 100 MovieLens events at 45 µs each (`bench/ingest-freshness.ts`, 2 cores), and
   * several times more on a loaded machine. Default 100.
   */
  maxBatchRecords?: number;
}

export interface KafkaBusOptions {
  /** Bootstrap brokers as `host:port`, with a host name or an IPv4 address. */
  brokers: string[];
  /** Client id that the brokers show in their logs and metrics. */
  clientId: string;
  /**
   * Receives the bus's own logs and the kafkajs logs. The bus binds its own `component` field, so
   * pass a logger without one: pino writes a repeated binding twice in a line.
   */
  logger: Logger;
  /**
   * kafkajs retry policy of connections, produce requests and consumer
   * fetches and commits. A produce rejects after these retries. Default:
   * kafkajs' own, 5 retries from 300 ms doubling up to 30 s.
   */
  retry?: RetryOptions;
  consumer?: KafkaConsumerOptions;
  /** Backoff before a batch whose handler failed is delivered again. */
  redelivery?: RedeliveryBackoffOptions;
}

export interface KafkaBusSettings {
  brokers: string[];
  clientId: string;
  retry: RetryOptions | undefined;
  consumer: Required<KafkaConsumerOptions>;
  redelivery: RedeliveryBackoff;
}

const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
const DEFAULT_REBALANCE_TIMEOUT_MS = 60_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;
const DEFAULT_MAX_WAIT_TIME_MS = 1_000;
const DEFAULT_PARTITIONS_CONSUMED_CONCURRENTLY = 3;
const DEFAULT_MAX_BATCH_RECORDS = 100;

/** Applies the defaults and throws a `BusError` that names the first invalid option. */
export function resolveKafkaBusOptions(options: KafkaBusOptions): KafkaBusSettings {
  if (options.brokers.length === 0) {
    throw invalidOption('brokers is empty; pass at least one "host:port" bootstrap address');
  }
  for (const broker of options.brokers) {
    const problem = brokerAddressProblem(broker);
    if (problem !== undefined) {
      throw invalidOption(`broker ${JSON.stringify(broker)} ${problem}`);
    }
  }
  if (options.clientId.length === 0) {
    throw invalidOption('clientId is empty; pass the service name');
  }
  return {
    brokers: [...options.brokers],
    clientId: options.clientId,
    retry: options.retry,
    consumer: resolveConsumerOptions(options.consumer ?? {}),
    redelivery: resolveRedeliveryBackoff(options.redelivery),
  };
}

function resolveConsumerOptions(options: KafkaConsumerOptions): Required<KafkaConsumerOptions> {
  const sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  const rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? DEFAULT_REBALANCE_TIMEOUT_MS;
  const consumer = {
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    maxWaitTimeMs: options.maxWaitTimeMs ?? DEFAULT_MAX_WAIT_TIME_MS,
    groupJoinTimeoutMs: options.groupJoinTimeoutMs ?? rebalanceTimeoutMs + sessionTimeoutMs,
  };
  for (const [name, value] of Object.entries(consumer)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw invalidOption(`consumer.${name} ${value} is not a positive integer number of milliseconds`);
    }
  }
  const partitionsConsumedConcurrently = options.partitionsConsumedConcurrently ?? DEFAULT_PARTITIONS_CONSUMED_CONCURRENTLY;
  if (!Number.isInteger(partitionsConsumedConcurrently) || partitionsConsumedConcurrently <= 0) {
    throw invalidOption(`consumer.partitionsConsumedConcurrently ${partitionsConsumedConcurrently} is not a positive integer`);
  }
  if (consumer.heartbeatIntervalMs >= consumer.sessionTimeoutMs) {
    throw invalidOption(
      `consumer.heartbeatIntervalMs ${consumer.heartbeatIntervalMs} must be less than ` +
        `consumer.sessionTimeoutMs ${consumer.sessionTimeoutMs}, or the group evicts healthy members`,
    );
  }
  const maxBatchRecords = options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS;
  if (!Number.isInteger(maxBatchRecords) || maxBatchRecords <= 0) {
    throw invalidOption(`consumer.maxBatchRecords ${maxBatchRecords} is not a positive integer`);
  }
  return { ...consumer, partitionsConsumedConcurrently, maxBatchRecords };
}

function invalidOption(detail: string): BusError {
  return new BusError('BUS_ERR_INVALID_ARGUMENT', `invalid KafkaBus options: ${detail}`);
}
