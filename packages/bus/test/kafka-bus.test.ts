import { Writable } from 'node:stream';
import { startMockKafka, uniqueName, type MockKafka } from '@nexttap/testkit';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { BusError, KafkaBus, type KafkaBusOptions } from '../src/index';
import { createKafkaLogCreator, kafkaLogLevelFor } from '../src/kafka-log';
import { describeEventBusContract } from './bus-contract';

/** Each group join against the mock cluster takes about 3 s, so a test may take several seconds. */
const KAFKA_TEST_TIMEOUT_MS = 60_000;

/**
 * Short timings for tests only. The librdkafka 2.0.2 mock delays the first
 * join of a group by about 3 s. With a 1.5 s session timeout the join never
 * completed (JoinGroup timed out), so sessionTimeoutMs stays above 3 s. A
 * rejoin after a member left took about sessionTimeoutMs - 1 s when measured
 * with session timeouts from 3.1 s to 10 s.
 */
const testTimings: Pick<KafkaBusOptions, 'retry' | 'consumer' | 'redelivery'> = {
  retry: { initialRetryTime: 50, maxRetryTime: 500, retries: 3 },
  consumer: { sessionTimeoutMs: 4_000, rebalanceTimeoutMs: 1_000, heartbeatIntervalMs: 300, maxWaitTimeMs: 100 },
  redelivery: { initialDelayMs: 20, maxDelayMs: 200 },
};

const silentLogger = pino({ level: 'silent' });

const waitOptions = { timeout: KAFKA_TEST_TIMEOUT_MS, interval: 50 };

let cluster: MockKafka;
let admin: Admin;

beforeAll(async () => {
  cluster = await startMockKafka();
  admin = new Kafka({ clientId: 'bus-test-admin', brokers: cluster.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
}, KAFKA_TEST_TIMEOUT_MS);

afterAll(async () => {
  await admin?.disconnect();
  await cluster?.stop();
});

/** Committed offsets of `groupId` on `topic` by partition, leaving out partitions without one. */
async function committedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
  const [topicOffsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = new Map<number, string>();
  for (const { partition, offset } of topicOffsets?.partitions ?? []) {
    // Kafka reports "-1" for a partition without a committed offset.
    if (offset !== '-1') {
      committed.set(partition, offset);
    }
  }
  return committed;
}

function createBus(overrides: Partial<KafkaBusOptions> = {}): KafkaBus {
  return new KafkaBus({
    brokers: cluster.brokers,
    clientId: uniqueName('bus-test'),
    logger: silentLogger,
    ...testTimings,
    ...overrides,
  });
}

describeEventBusContract('kafka', {
  setUp: async () => ({
    createBus: () => createBus(),
    createTopic: (_bus, name, partitions) => cluster.createTopic(name, partitions),
    committedOffsets: (_bus, groupId, topic) => committedOffsets(groupId, topic),
  }),
  tearDown: async () => {},
  // NOTE: the librdkafka 2.0.2 mock creates a missing topic on the first
  // metadata request although KafkaBus requests no auto-creation, so the
  // behaviour against a real broker with auto-creation off is untested.
  rejectsMissingTopics: false,
  timeoutMs: KAFKA_TEST_TIMEOUT_MS,
});

describe('KafkaBus', () => {
  it(
    'rejects produce when every broker is down',
    async () => {
      const topic = uniqueName('outage');
      const outageCluster = await startMockKafka({ topics: [{ name: topic, partitions: 1 }] });
      onTestFinished(() => outageCluster.stop());
      const bus = createBus({ brokers: outageCluster.brokers });
      onTestFinished(() => bus.close());
      await bus.produce(topic, [{ key: 'session-1', value: 'before' }]);

      for (const brokerId of [1, 2, 3]) {
        await outageCluster.setBrokerDown(brokerId);
      }
      const produced = bus.produce(topic, [{ key: 'session-1', value: 'during' }]);

      await expect(produced).rejects.toBeInstanceOf(BusError);
      await expect(produced).rejects.toMatchObject({ code: 'BUS_ERR_PRODUCE_FAILED', retriable: true });
    },
    KAFKA_TEST_TIMEOUT_MS,
  );

  it('rejects invalid options', () => {
    expect(() => createBus({ brokers: [] })).toThrow('brokers is empty');
    expect(() => createBus({ brokers: ['localhost'] })).toThrow('broker "localhost" is not a host:port address');
    expect(() => createBus({ brokers: ['localhost:99999'] })).toThrow('broker "localhost:99999" has port 99999, outside 1 to 65535');
    expect(() => createBus({ brokers: ['localhost:0'] })).toThrow('broker "localhost:0" has port 0');
    expect(() => createBus({ brokers: [''] })).toThrow('broker "" is empty');
    expect(() => createBus({ clientId: '' })).toThrow('clientId is empty');
    expect(() => createBus({ consumer: { sessionTimeoutMs: 1_000, heartbeatIntervalMs: 1_000 } })).toThrow(
      'consumer.heartbeatIntervalMs 1000 must be less than consumer.sessionTimeoutMs 1000',
    );
    expect(() => createBus({ consumer: { maxWaitTimeMs: -1 } })).toThrow('consumer.maxWaitTimeMs -1 is not a positive integer');
    expect(() => createBus({ consumer: { partitionsConsumedConcurrently: 0 } })).toThrow(
      'consumer.partitionsConsumedConcurrently 0 is not a positive integer',
    );
    expect(() => createBus({ consumer: { maxBatchRecords: 0 } })).toThrow('consumer.maxBatchRecords 0 is not a positive integer');
    expect(() => createBus({ consumer: { maxBatchRecords: 1.5 } })).toThrow('consumer.maxBatchRecords 1.5 is not a positive integer');
  });

  it(
    'merges records fetched during a handler call',
    async () => {
      const bus = createBus();
      onTestFinished(() => bus.close());
      const topic = uniqueName('fetch-ahead');
      await cluster.createTopic(topic, 1);
      const groupId = uniqueName('fetch-ahead-group');
      await bus.produce(topic, [{ key: 'session-1', value: 'first' }]);

      const calls: string[][] = [];
      let releaseFirstCall: () => void = () => {};
      const firstCallGate = new Promise<void>((resolve) => {
        releaseFirstCall = resolve;
      });
      const subscription = await bus.subscribe({
        groupId,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (batch) => {
          calls.push(batch.records.map((record) => record.value?.toString() ?? ''));
          if (calls.length === 1) {
            await firstCallGate;
          }
        },
      });
      onTestFinished(() => {
        releaseFirstCall();
        return subscription.stop();
      });
      await expect.poll(() => calls.length, waitOptions).toBe(1);

      // The mock cluster returns one produce request's records per fetch, so these three requests
      // take three fetches, all made while the first call still runs.
      for (const value of ['a', 'b', 'c']) {
        await bus.produce(topic, [{ key: 'session-1', value }]);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(calls).toHaveLength(1);
      expect(await committedOffsets(groupId, topic)).toEqual(new Map());

      releaseFirstCall();
      await expect.poll(() => calls.flat().length, waitOptions).toBe(4);
      expect(calls).toEqual([['first'], ['a', 'b', 'c']]);
      await expect.poll(() => committedOffsets(groupId, topic), waitOptions).toEqual(new Map([[0, '4']]));
    },
    KAFKA_TEST_TIMEOUT_MS,
  );

  it(
    'limits handler calls across partitions',
    async () => {
      const bus = createBus({ consumer: { ...testTimings.consumer, partitionsConsumedConcurrently: 2 } });
      onTestFinished(() => bus.close());
      const topic = uniqueName('concurrency');
      await cluster.createTopic(topic, 3);
      const values = Array.from({ length: 60 }, (_, index) => String(index));
      await bus.produce(topic, values.map((value) => ({ key: `session-${value}`, value })));

      let running = 0;
      let maxRunning = 0;
      let received = 0;
      const partitions = new Set<number>();
      const subscription = await bus.subscribe({
        groupId: uniqueName('concurrency-group'),
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (batch) => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          partitions.add(batch.partition);
          await new Promise((resolve) => setTimeout(resolve, 100));
          received += batch.records.length;
          running -= 1;
        },
      });
      onTestFinished(() => subscription.stop());

      await expect.poll(() => received, waitOptions).toBe(values.length);
      expect(partitions.size).toBe(3);
      expect(maxRunning).toBe(2);
    },
    KAFKA_TEST_TIMEOUT_MS,
  );

  it(
    'splits a fetched batch at maxBatchRecords',
    async () => {
      const bus = createBus({ consumer: { ...testTimings.consumer, maxBatchRecords: 10 } });
      onTestFinished(() => bus.close());
      const topic = uniqueName('split');
      await cluster.createTopic(topic, 1);
      const groupId = uniqueName('split-group');
      const values = Array.from({ length: 25 }, (_, index) => String(index));
      await bus.produce(topic, values.map((value) => ({ key: 'session-1', value })));

      const calls: string[][] = [];
      const subscription = await bus.subscribe({
        groupId,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (batch) => {
          calls.push(batch.records.map((record) => record.value?.toString() ?? ''));
        },
      });
      onTestFinished(() => subscription.stop());

      await expect.poll(() => calls.flat().length, waitOptions).toBe(25);
      expect(calls).toEqual([values.slice(0, 10), values.slice(10, 20), values.slice(20)]);
      await expect.poll(() => committedOffsets(groupId, topic), waitOptions).toEqual(new Map([[0, '25']]));
    },
    KAFKA_TEST_TIMEOUT_MS,
  );

  it('rejects IPv6 broker addresses, which kafkajs splits at the first colon', () => {
    expect(() => createBus({ brokers: ['[::1]:9092'] })).toThrow('broker "[::1]:9092" is an IPv6 literal, which kafkajs 2.2.4 cannot connect to');
  });
});

describe('kafkajs log routing', () => {
  function captureLogger(level: string): { logger: Logger; lines: Record<string, unknown>[] } {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    });
    return { logger: pino({ level }, destination), lines };
  }

  it('writes fields first with a fixed message', () => {
    const { logger, lines } = captureLogger('info');
    const log = createKafkaLogCreator(logger)(logLevel.INFO);

    log({
      namespace: 'Consumer',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: {
        timestamp: '2026-01-01T00:00:00.000Z',
        logger: 'kafkajs',
        message: 'Crash: KafkaJSNumberOfRetriesExceeded',
        groupId: 'ingest',
        error: 'Connection timeout',
        stack: 'KafkaJSConnectionError: Connection timeout\n    at connect',
      },
    });

    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toMatchObject({
      level: 50,
      msg: 'kafkajs',
      component: 'kafkajs',
      namespace: 'Consumer',
      kafkajsMessage: 'Crash: KafkaJSNumberOfRetriesExceeded',
      groupId: 'ingest',
      err: { message: 'Connection timeout', stack: 'KafkaJSConnectionError: Connection timeout\n    at connect' },
    });
    expect(line).not.toHaveProperty('timestamp');
    expect(line).not.toHaveProperty('logger');
  });

  it('maps kafkajs levels to pino levels', () => {
    const { logger, lines } = captureLogger('debug');
    const log = createKafkaLogCreator(logger)(logLevel.DEBUG);
    const entry = (level: logLevel) => ({
      namespace: 'Runner',
      level,
      label: logLevel[level],
      log: { timestamp: '', logger: 'kafkajs', message: 'message' },
    });

    for (const level of [logLevel.ERROR, logLevel.WARN, logLevel.INFO, logLevel.DEBUG]) {
      log(entry(level));
    }

    expect(lines.map((line) => line.level)).toEqual([50, 40, 30, 20]);
  });

  it('passes the pino level to kafkajs', () => {
    expect(kafkaLogLevelFor(pino({ level: 'trace' }))).toBe(logLevel.DEBUG);
    expect(kafkaLogLevelFor(pino({ level: 'info' }))).toBe(logLevel.INFO);
    expect(kafkaLogLevelFor(pino({ level: 'warn' }))).toBe(logLevel.WARN);
    expect(kafkaLogLevelFor(pino({ level: 'error' }))).toBe(logLevel.ERROR);
    expect(kafkaLogLevelFor(pino({ level: 'fatal' }))).toBe(logLevel.NOTHING);
    expect(kafkaLogLevelFor(pino({ level: 'silent' }))).toBe(logLevel.NOTHING);
  });
});
