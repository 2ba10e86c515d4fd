import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { keys } from '@nexttap/features';
import { createLogger } from '@nexttap/observability';
import { startMockKafka, startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const KEY_PREFIX = 'poison:';

interface DeadLetter {
  code: string;
  header: string | undefined;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  originalTruncated: boolean;
  originalLength: number;
}

/** One poison record: what is produced, and the reason code its dead letter must carry. */
interface PoisonCase {
  name: string;
  value: Buffer | string | null;
  code: string;
}

const nowMs = Date.now();

function event(sessionId: string, eventId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { eventId, type: 'tap', ts: nowMs - 1_000, sessionId, itemId: 'item-1', ...overrides };
}

function poisonCases(sessionId: string): PoisonCase[] {
  const json = (eventId: string, overrides: Record<string, unknown>) => JSON.stringify(event(sessionId, eventId, overrides));
  const withoutItem = event(sessionId, 'missing-item');
  delete withoutItem.itemId;
  return [
    { name: 'truncated JSON', value: '{"eventId": "truncated', code: 'EVENT_INVALID_JSON' },
    { name: 'invalid UTF-8', value: Buffer.from([0xff, 0xfe, 0x7b, 0x00]), code: 'EVENT_INVALID_JSON' },
    { name: 'no value', value: null, code: 'EVENT_INVALID_JSON' },
    { name: 'JSON array', value: '[1, 2, 3]', code: 'EVENT_NOT_AN_OBJECT' },
    { name: 'JSON string', value: '"tap"', code: 'EVENT_NOT_AN_OBJECT' },
    { name: 'ts of the wrong type', value: json('wrong-ts', { ts: 'yesterday' }), code: 'EVENT_INVALID_FIELD' },
    { name: 'dwellMs as a string', value: json('wrong-dwell', { dwellMs: '1000' }), code: 'EVENT_INVALID_FIELD' },
    { name: 'unknown type', value: json('unknown-type', { type: 'click' }), code: 'EVENT_UNKNOWN_TYPE' },
    { name: 'missing itemId', value: JSON.stringify(withoutItem), code: 'EVENT_MISSING_FIELD' },
    { name: 'unknown field', value: json('unknown-field', { campaign: 'x' }), code: 'EVENT_UNKNOWN_FIELD' },
    { name: 'eventId over 128 characters', value: json('x'.repeat(129), {}), code: 'EVENT_INVALID_FIELD' },
    { name: 'itemId with a control character', value: json('control', { itemId: 'a\u0000b' }), code: 'EVENT_INVALID_FIELD' },
    { name: 'itemId with a zero-width space', value: json('invisible', { itemId: 'a\u200bb' }), code: 'EVENT_INVALID_FIELD' },
    { name: 'epoch seconds', value: json('seconds', { ts: Math.floor(nowMs / 1000) }), code: 'EVENT_EPOCH_SECONDS' },
    { name: 'future timestamp', value: json('future', { ts: nowMs + 86_400_000 }), code: 'EVENT_FUTURE_TIMESTAMP' },
    { name: 'timestamp past the lateness', value: json('late', { ts: nowMs - 2 * 86_400_000 }), code: 'EVENT_TOO_LATE' },
    { name: 'record over 16 KB', value: json('large', { context: { note: 'x'.repeat(20_000) } }), code: 'EVENT_TOO_LARGE' },
    { name: 'record over 64 KB', value: 'y'.repeat(200_000), code: 'EVENT_TOO_LARGE' },
  ];
}

/** Reads the Prometheus counter `nexttap_ingest_records_total` by topic and outcome. */
async function ingestCounts(server: RunningServer): Promise<Map<string, number>> {
  const text = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^nexttap_ingest_records_total\{topic="([^"]+)",outcome="([^"]+)"\} (\d+)$/gm)) {
    counts.set(`${match[1]}/${match[2]}`, Number(match[3]));
  }
  return counts;
}

describe('poison records on the topics', () => {
  let redis: RedisServer;
  let kafka: MockKafka;
  let server: RunningServer;
  let client: Redis;
  let producer: Producer;
  let dlqReader: Consumer;
  let topicPrefix: string;
  const deadLetters = new Map<string, DeadLetter[]>();

  beforeAll(async () => {
    topicPrefix = uniqueName('poison');
    [redis, kafka] = await Promise.all([
      startRedisServer(),
      startMockKafka({
        topics: [
          { name: `${topicPrefix}.interactions`, partitions: 3 },
          { name: `${topicPrefix}.catalog`, partitions: 1 },
          { name: `${topicPrefix}.interactions.dlq`, partitions: 1 },
        ],
      }),
    ]);
    client = new Redis(redis.url);
    const config = parseServerConfig({
      PORT: '0',
      KAFKA_BROKERS: kafka.brokers.join(','),
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: KEY_PREFIX,
      TOPIC_PREFIX: topicPrefix,
      INGEST_CONSUMER_GROUP: uniqueName('ingest'),
      SEED_DATASET: 'none',
      LOG_LEVEL: 'silent',
    });
    server = await startServer('ingest', config, { logger: createLogger({ level: 'silent', service: 'poison' }) });

    const kafkaClient = new Kafka({ clientId: 'poison-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    producer = kafkaClient.producer();
    await producer.connect();
    dlqReader = kafkaClient.consumer({ groupId: uniqueName('dlq-reader'), maxWaitTimeInMs: 100 });
    await dlqReader.connect();
    await dlqReader.subscribe({ topic: `${topicPrefix}.interactions.dlq`, fromBeginning: true });
    await dlqReader.run({
      eachMessage: async ({ message }) => {
        const envelope = JSON.parse(message.value?.toString() ?? '{}');
        const key = message.key?.toString() ?? '';
        const list = deadLetters.get(key) ?? [];
        list.push({
          code: envelope.reason.code,
          header: message.headers?.['nexttap-reason']?.toString(),
          sourceTopic: envelope.source.topic,
          sourcePartition: envelope.source.partition,
          sourceOffset: envelope.source.offset,
          originalTruncated: envelope.originalTruncated,
          originalLength: (envelope.original ?? '').length,
        });
        deadLetters.set(key, list);
      },
    });
  }, 120_000);

  afterAll(async () => {
    await dlqReader?.disconnect();
    await producer?.disconnect();
    await server?.close();
    client?.disconnect();
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  it('dead-letters each poison record with its reason and applies the next event', async () => {
    const sessionId = uniqueName('session');
    const cases = poisonCases(sessionId);
    const before = await ingestCounts(server);
    const valid = event(sessionId, 'valid-after-poison');
    await producer.send({
      topic: `${topicPrefix}.interactions`,
      messages: [...cases.map((poison) => ({ key: sessionId, value: poison.value })), { key: sessionId, value: JSON.stringify(valid) }],
    });

    await expect.poll(() => client.exists(KEY_PREFIX + keys.dedup(sessionId, 'valid-after-poison')), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => deadLetters.get(sessionId)?.length ?? 0, { timeout: 30_000 }).toBe(cases.length);

    const letters = deadLetters.get(sessionId) ?? [];
    expect(letters.map((letter) => letter.code)).toEqual(cases.map((poison) => poison.code));
    expect(letters.map((letter) => letter.header)).toEqual(cases.map((poison) => poison.code));
    expect(new Set(letters.map((letter) => letter.sourceTopic))).toEqual(new Set([`${topicPrefix}.interactions`]));
    expect(new Set(letters.map((letter) => letter.sourcePartition)).size).toBe(1);
    const offsets = letters.map((letter) => Number(letter.sourceOffset));
    expect(offsets).toEqual([...offsets].sort((left, right) => left - right));
    expect(new Set(offsets).size).toBe(cases.length);
    const largest = letters.at(-1);
    expect(largest?.originalTruncated).toBe(true);
    expect(largest?.originalLength).toBe(65_536);
    expect(await client.hget(KEY_PREFIX + keys.sessionMeta(sessionId), 'events')).toBe('1');

    const after = await ingestCounts(server);
    const expected = new Map<string, number>();
    for (const poison of cases) {
      expected.set(poison.code, (expected.get(poison.code) ?? 0) + 1);
    }
    for (const [code, count] of expected) {
      const key = `interactions/${code}`;
      expect(after.get(key) ?? 0, key).toBe((before.get(key) ?? 0) + count);
    }
    expect(after.get('interactions/applied') ?? 0).toBe((before.get('interactions/applied') ?? 0) + 1);
  });

  it('applies an event with non-NFC ids under the NFC keys', async () => {
    const decomposed = `${uniqueName('cafe')}e\u0301`;
    const composed = decomposed.normalize('NFC');
    expect(composed).not.toBe(decomposed);
    await producer.send({ topic: `${topicPrefix}.interactions`, messages: [{ key: decomposed, value: JSON.stringify(event(decomposed, 'nfc-1')) }] });

    await expect.poll(() => client.exists(KEY_PREFIX + keys.dedup(composed, 'nfc-1')), { timeout: 30_000 }).toBe(1);
    expect(await client.exists(KEY_PREFIX + keys.dedup(decomposed, 'nfc-1'))).toBe(0);
    expect(deadLetters.get(decomposed)).toBeUndefined();
  });

  it('dead-letters an invalid catalog record and applies the next one', async () => {
    const itemId = uniqueName('item');
    const before = await ingestCounts(server);
    await producer.send({
      topic: `${topicPrefix}.catalog`,
      messages: [
        { key: itemId, value: '{"itemId": ' },
        { key: itemId, value: JSON.stringify({ itemId, categories: 'drama' }) },
        { key: itemId, value: JSON.stringify({ itemId, categories: ['drama'] }) },
      ],
    });

    await expect.poll(() => client.exists(KEY_PREFIX + keys.itemCatalog(itemId)), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => deadLetters.get(itemId)?.map((letter) => letter.code), { timeout: 30_000 }).toEqual(['EVENT_INVALID_JSON', 'EVENT_INVALID_FIELD']);
    expect(deadLetters.get(itemId)?.[0]?.sourceTopic).toBe(`${topicPrefix}.catalog`);
    const after = await ingestCounts(server);
    expect(after.get('catalog/EVENT_INVALID_JSON') ?? 0).toBe((before.get('catalog/EVENT_INVALID_JSON') ?? 0) + 1);
    expect(after.get('catalog/EVENT_INVALID_FIELD') ?? 0).toBe((before.get('catalog/EVENT_INVALID_FIELD') ?? 0) + 1);
  });
});
