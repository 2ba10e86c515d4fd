import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { createLogger } from '@nexttap/observability';
import { startMockKafka, startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A `records dead-lettered` log line and the time the test received it, on the `performance.now()` clock. */
interface DeadLetterLine {
  receivedMs: number;
  countsByCode: Record<string, number>;
  example: { topic: string; partition: number; offset: string; code: string; message: string };
}

describe('dead-letter log of ingest', () => {
  let redis: RedisServer;
  let kafka: MockKafka;
  let server: RunningServer;
  let producer: Producer;
  let interactionsTopic: string;
  const lines: DeadLetterLine[] = [];

  beforeAll(async () => {
    const topicPrefix = uniqueName('dead-letter-log');
    interactionsTopic = `${topicPrefix}.interactions`;
    [redis, kafka] = await Promise.all([
      startRedisServer(),
      startMockKafka({
        topics: [
          { name: interactionsTopic, partitions: 1 },
          { name: `${topicPrefix}.catalog`, partitions: 1 },
          { name: `${topicPrefix}.interactions.dlq`, partitions: 1 },
        ],
      }),
    ]);
    const config = parseServerConfig({
      PORT: '0',
      KAFKA_BROKERS: kafka.brokers.join(','),
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'dead-letter-log:',
      TOPIC_PREFIX: topicPrefix,
      INGEST_CONSUMER_GROUP: uniqueName('ingest'),
      SEED_DATASET: 'none',
      LOG_LEVEL: 'warn',
    });
    const destination = {
      write: (line: string) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === 'records dead-lettered') {
          lines.push({ receivedMs: performance.now(), countsByCode: entry.countsByCode as DeadLetterLine['countsByCode'], example: entry.example as DeadLetterLine['example'] });
        }
      },
    };
    server = await startServer('ingest', config, { logger: createLogger({ level: 'warn', service: 'dead-letter-log' }, destination) });

    const kafkaClient = new Kafka({ clientId: 'dead-letter-log-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    producer = kafkaClient.producer();
    await producer.connect();
  }, 120_000);

  afterAll(async () => {
    await producer?.disconnect();
    await server?.close();
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  it('logs counts per code at most every 10 s', async () => {
    const sessionId = uniqueName('session');
    const tooLate = JSON.stringify({ eventId: 'late', type: 'tap', ts: Date.now() - 2 * 86_400_000, sessionId, itemId: 'item-1' });
    await producer.send({ topic: interactionsTopic, messages: [{ key: sessionId, value: 'not json' }, { key: sessionId, value: tooLate }] });
    await expect.poll(() => lines.length, { timeout: 30_000 }).toBe(1);

    // Dead-lettered within 10 s of the first line, so these are logged only at the end of the interval.
    await producer.send({ topic: interactionsTopic, messages: [{ key: sessionId, value: '[1]' }, { key: sessionId, value: '[2]' }, { key: sessionId, value: 'not json either' }] });
    await expect.poll(() => lines.length, { timeout: 30_000 }).toBe(2);

    const [first, second] = lines;
    expect(first?.countsByCode).toEqual({ EVENT_INVALID_JSON: 1, EVENT_TOO_LATE: 1 });
    expect(first?.example.topic).toBe(interactionsTopic);
    expect(first?.example.partition).toBe(0);
    expect(first?.example.offset).toBe('0');
    expect(first?.example.code).toBe('EVENT_INVALID_JSON');
    expect(first?.example.message).toEqual(expect.any(String));
    expect(second?.countsByCode).toEqual({ EVENT_NOT_AN_OBJECT: 2, EVENT_INVALID_JSON: 1 });
    expect(second?.example.offset).toBe('2');
    expect(second?.example.code).toBe('EVENT_NOT_AN_OBJECT');
    // Node's timers count whole milliseconds, so by performance.now() the line may come slightly less than 10 s after the first.
    expect((second?.receivedMs ?? 0) - (first?.receivedMs ?? 0)).toBeGreaterThanOrEqual(9_900);
  }, 60_000);
});
