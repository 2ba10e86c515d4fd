import { createLogger } from '@nexttap/observability';
import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { toWireCatalogItem, type CatalogItem, type Interaction } from '@nexttap/events';
import { keys } from '@nexttap/features';
import { startMockKafka, startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectFeedFollowsTaps, loadMovieLens, MODEL_DIR, postJson } from './feed-scenario';

const logger = createLogger({ level: 'silent', service: 'end-to-end' });
/** MovieLens events sent through the collector to warm the features: the most recent ones. */
const HISTORY_EVENTS = 20_000;
const KEY_PREFIX = 'e2e:';
/** Ingest applies an event within milliseconds, but a loaded test machine can take seconds. */
const POLL = { timeout: 30_000, interval: 50 };
/** The ranker's item cache max age in these tests, the longest the setting allows, in ms. */
const ITEM_CACHE_MAX_AGE_MS = 60_000;

/**
 * Checks that a catalog update reaches the next feed although the ranker cached the item's old
 * record: ingest's item change notice drops the copy. The poll gives up well before the cache's
 * max age, so a ranker that missed the notice fails it.
 */
async function expectCatalogUpdateInNextFeed(baseUrl: string, itemId: string): Promise<void> {
  const sessionId = uniqueName('catalog-change');
  // A degraded feed comes from the pool copy, whose catalog records are read again on their own
  // schedule, so only feeds ranked from the item cache count.
  const feedTitle = async (): Promise<unknown> => {
    const { status, body } = await postJson(baseUrl, '/v1/feed', { sessionId, limit: 1, candidates: [itemId], includeCatalog: true });
    expect(status).toBe(200);
    return body.degraded === undefined ? body.items[0]?.catalog?.title : 'degraded';
  };
  await expect.poll(feedTitle, POLL).not.toBe('degraded');
  const before = await feedTitle();
  const title = `Renamed ${sessionId}`;
  expect((await postJson(baseUrl, '/v1/catalog', { items: [{ itemId, categories: ['Drama'], title }] })).status).toBe(202);

  await expect.poll(feedTitle, { timeout: ITEM_CACHE_MAX_AGE_MS / 3, interval: 50 }).toBe(title);
  expect(before).not.toBe(title);
}

describe('Kafka and Redis end to end', () => {
  let redis: RedisServer;
  let kafka: MockKafka;
  let server: RunningServer;
  let client: Redis;
  let topicPrefix: string;
  let catalog: CatalogItem[];
  let history: Interaction[];

  beforeAll(async () => {
    topicPrefix = uniqueName('e2e');
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
      MODEL_DIR,
      POOL_REFRESH_INTERVAL_MS: '100',
      // The longest maximum age, so that only a change notice can refresh a cached item within a test.
      ITEM_CACHE_MAX_AGE_MS: String(ITEM_CACHE_MAX_AGE_MS),
      LOG_LEVEL: 'silent',
      // The MovieLens history reaches back years, far past the default 1-day lateness.
      MAX_EVENT_LATENESS_MS: '3000000000000',
    });
    server = await startServer('all', config, { logger });

    const data = await loadMovieLens(Date.now());
    catalog = data.catalog;
    history = data.events.slice(-HISTORY_EVENTS);
    for (let start = 0; start < catalog.length; start += 500) {
      const items = catalog.slice(start, start + 500).map(toWireCatalogItem);
      expect((await postJson(server.url, '/v1/catalog', { items })).status).toBe(202);
    }
    for (let start = 0; start < history.length; start += 500) {
      const response = await postJson(server.url, '/v1/events', { events: history.slice(start, start + 500) });
      expect(response.body.rejected).toEqual([]);
    }
    const last = history.at(-1) as Interaction;
    await vi.waitFor(
      async () => {
        expect(await client.exists(KEY_PREFIX + keys.dedup(last.sessionId, last.eventId))).toBe(1);
      },
      { timeout: 60_000, interval: 100 },
    );
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    client?.disconnect();
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  it('serves a feed that follows the session', async () => {
    await expectFeedFollowsTaps(server.url, catalog, history, Date.now);
  });

  it('serves a catalog update in the next feed', async () => {
    await expectCatalogUpdateInNextFeed(server.url, (catalog[0] as CatalogItem).itemId);
  });

  it('applies a redelivered event once', async () => {
    const sessionId = uniqueName('dup');
    // An item no history event names: the history's three partitions may still be applying events
    // of popular items, which would change their counters between the two reads below.
    const itemId = (catalog.find((item) => !history.some((past) => past.itemId === item.itemId)) as CatalogItem).itemId;
    const event = { eventId: `${sessionId}-1`, type: 'like', ts: Date.now() - 1_000, sessionId, itemId };
    const marker = { eventId: `${sessionId}-2`, type: 'impression', ts: Date.now() - 500, sessionId, itemId: '2' };
    await postJson(server.url, '/v1/events', { events: [event] });
    await expect.poll(() => client.exists(KEY_PREFIX + keys.dedup(sessionId, event.eventId)), POLL).toBe(1);
    const statsBefore = await client.getBuffer(KEY_PREFIX + keys.itemSnapshot(itemId));
    expect(statsBefore).not.toBeNull();
    const affinityBefore = await client.hgetall(KEY_PREFIX + keys.sessionAffinity(sessionId));

    // The same event again, then a marker on the same session key, so the same partition: once the
    // marker is applied, the duplicate before it has been consumed.
    await postJson(server.url, '/v1/events', { events: [event, marker] });
    await expect.poll(() => client.exists(KEY_PREFIX + keys.dedup(sessionId, marker.eventId)), POLL).toBe(1);

    expect(await client.getBuffer(KEY_PREFIX + keys.itemSnapshot(itemId))).toEqual(statsBefore);
    expect(await client.hgetall(KEY_PREFIX + keys.sessionAffinity(sessionId))).toEqual(affinityBefore);
    expect(await client.hget(KEY_PREFIX + keys.sessionMeta(sessionId), 'events')).toBe('2');
  });

  it('dead-letters invalid records and keeps the partition moving', async () => {
    const sessionId = uniqueName('poison');
    const kafkaClient = new Kafka({ clientId: 'e2e-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    const producer = kafkaClient.producer();
    await producer.connect();
    const valid = { eventId: `${sessionId}-ok`, type: 'tap', ts: Date.now() - 1_000, sessionId, itemId: '1' };
    await producer.send({
      topic: `${topicPrefix}.interactions`,
      messages: [
        { key: sessionId, value: JSON.stringify({ ...valid, eventId: `${sessionId}-bad`, type: 'click' }) },
        { key: sessionId, value: '{"eventId": "truncated' },
        { key: sessionId, value: JSON.stringify({ ...valid, eventId: `${sessionId}-seconds`, ts: 1_700_000_000 }) },
        { key: sessionId, value: JSON.stringify(valid) },
      ],
    });
    await producer.disconnect();
    await expect.poll(() => client.exists(KEY_PREFIX + keys.dedup(sessionId, valid.eventId)), POLL).toBe(1);

    const consumer = kafkaClient.consumer({ groupId: uniqueName('dlq-reader'), maxWaitTimeInMs: 100 });
    const reasons: Array<{ code: string; offset: string }> = [];
    await consumer.connect();
    await consumer.subscribe({ topic: `${topicPrefix}.interactions.dlq`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const envelope = JSON.parse(message.value?.toString() ?? '{}');
        if (message.key?.toString() === sessionId) {
          reasons.push({ code: envelope.reason.code, offset: envelope.source.offset });
          expect(message.headers?.['nexttap-reason']?.toString()).toBe(envelope.reason.code);
        }
      },
    });
    await expect.poll(() => reasons.map((reason) => reason.code), { timeout: 30_000 }).toEqual([
      'EVENT_UNKNOWN_TYPE',
      'EVENT_INVALID_JSON',
      'EVENT_EPOCH_SECONDS',
    ]);
    await consumer.disconnect();
  });
});

describe('embedded end to end', () => {
  let server: RunningServer;
  let catalog: CatalogItem[];
  let history: Interaction[];

  beforeAll(async () => {
    const config = parseServerConfig({ PORT: '0', MODEL_DIR, LOG_LEVEL: 'silent', POOL_REFRESH_INTERVAL_MS: '100', ITEM_CACHE_MAX_AGE_MS: String(ITEM_CACHE_MAX_AGE_MS) });
    const startedMs = Date.now();
    server = await startServer('all', config, { logger });
    // The server seeds the same history, shifted to end a minute before its start.
    ({ catalog, events: history } = await loadMovieLens(startedMs));
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('reports ready with the in-process bus and memory store', async () => {
    expect(server.clients.mode).toEqual({ bus: 'in-process', store: 'memory' });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('serves a feed that follows the session', async () => {
    await expectFeedFollowsTaps(server.url, catalog, history, Date.now);
  });

  it('serves a catalog update in the next feed', async () => {
    await expectCatalogUpdateInNextFeed(server.url, (catalog[1] as CatalogItem).itemId);
  });

  it('lists rejected events and accepts the rest', async () => {
    const sessionId = uniqueName('mixed');
    const response = await postJson(server.url, '/v1/events', {
      events: [
        { eventId: 'ok', type: 'tap', ts: Date.now(), sessionId, itemId: '1' },
        { eventId: 'bad', type: 'tap', ts: 1_700_000_000, sessionId, itemId: '1' },
      ],
    });
    expect(response.status).toBe(202);
    expect(response.body.accepted).toBe(1);
    expect(response.body.rejected).toEqual([
      { index: 1, code: 'EVENT_EPOCH_SECONDS', field: 'ts', message: expect.stringContaining('looks like epoch seconds') },
    ]);
  });
});
