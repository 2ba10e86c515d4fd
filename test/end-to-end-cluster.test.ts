import { createLogger } from '@nexttap/observability';
import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { toWireCatalogItem, type CatalogItem, type Interaction } from '@nexttap/events';
import { keys } from '@nexttap/features';
import { startMockKafka, startRedisCluster, uniqueName, type MockKafka, type RedisCluster } from '@nexttap/testkit';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectFeedFollowsTaps, loadMovieLens, MODEL_DIR, postJson, requestFeed } from './feed-scenario';

const logger = createLogger({ level: 'silent', service: 'end-to-end-cluster' });
/** MovieLens events sent through the collector to warm the features: the most recent ones. */
const HISTORY_EVENTS = 5_000;
const KEY_PREFIX = 'e2e-cluster:';

describe('Kafka and Redis Cluster end to end', () => {
  let redisCluster: RedisCluster;
  let kafka: MockKafka;
  let server: RunningServer;
  let client: Cluster;
  let catalog: CatalogItem[];
  let history: Interaction[];

  beforeAll(async () => {
    const topicPrefix = uniqueName('e2e-cluster');
    [redisCluster, kafka] = await Promise.all([
      startRedisCluster(),
      startMockKafka({
        topics: [
          { name: `${topicPrefix}.interactions`, partitions: 3 },
          { name: `${topicPrefix}.catalog`, partitions: 1 },
          { name: `${topicPrefix}.interactions.dlq`, partitions: 1 },
        ],
      }),
    ]);
    client = new Cluster([...redisCluster.nodes]);
    const config = parseServerConfig({
      PORT: '0',
      KAFKA_BROKERS: kafka.brokers.join(','),
      REDIS_CLUSTER_NODES: redisCluster.addresses.join(','),
      REDIS_KEY_PREFIX: KEY_PREFIX,
      TOPIC_PREFIX: topicPrefix,
      INGEST_CONSUMER_GROUP: uniqueName('ingest'),
      MODEL_DIR,
      POOL_REFRESH_INTERVAL_MS: '100',
      // Three masters, Kafka and the server share the test machine's cores, so the ranker's
      // request-path budgets are raised: this test checks the features, not the latency.
      REDIS_COMMAND_TIMEOUT_MS: '2000',
      FEED_STORE_BUDGET_MS: '2000',
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
    // The ranker's copy of the pools refreshes on a timer; the scenarios start once it is filled.
    await vi.waitFor(
      async () => {
        expect((await requestFeed(server.url, uniqueName('warm-up'))).items).toHaveLength(20);
      },
      { timeout: 30_000, interval: 200 },
    );
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    client?.disconnect();
    await Promise.all([kafka?.stop(), redisCluster?.stop()]);
  });

  it('runs the store on the cluster', () => {
    expect(server.clients.mode).toEqual({ bus: 'kafka', store: 'redis-cluster' });
  });

  it('spreads the features over every master', async () => {
    const counts = await Promise.all(client.nodes('master').map(async (node) => (await node.keys(`${KEY_PREFIX}i:*:snapshot`)).length));
    expect(counts).toHaveLength(3);
    for (const count of counts) {
      expect(count).toBeGreaterThan(100);
    }
  });

  it('serves a feed that follows the session', async () => {
    await expectFeedFollowsTaps(server.url, catalog, history, Date.now);
  });

  it('applies a redelivered event once', async () => {
    const sessionId = uniqueName('dup');
    // An item no history event names: the history's three partitions may still be applying events
    // of popular items, which would change their counters between the two reads below.
    const itemId = (catalog.find((item) => !history.some((past) => past.itemId === item.itemId)) as CatalogItem).itemId;
    const event = { eventId: `${sessionId}-1`, type: 'like', ts: Date.now() - 1_000, sessionId, itemId };
    const marker = { eventId: `${sessionId}-2`, type: 'impression', ts: Date.now() - 500, sessionId, itemId: '2' };
    await postJson(server.url, '/v1/events', { events: [event] });
    // The dedup key, the item's snapshot and the pool live in different hash slots, so on different
    // masters, each written by its own call: wait until all three are there.
    await expect.poll(() => client.exists(KEY_PREFIX + keys.dedup(sessionId, event.eventId))).toBe(1);
    await expect.poll(() => client.exists(KEY_PREFIX + keys.itemSnapshot(itemId))).toBe(1);
    await expect.poll(() => client.zscore(KEY_PREFIX + keys.poolPopular(), itemId)).not.toBeNull();
    const statsBefore = await client.getBuffer(KEY_PREFIX + keys.itemSnapshot(itemId));
    const popularBefore = await client.zscore(KEY_PREFIX + keys.poolPopular(), itemId);

    // The same event again, then a marker on the same session key, so the same partition: once the
    // marker is applied, the duplicate before it has been consumed.
    await postJson(server.url, '/v1/events', { events: [event, marker] });
    await expect.poll(() => client.exists(KEY_PREFIX + keys.dedup(sessionId, marker.eventId))).toBe(1);

    expect(await client.getBuffer(KEY_PREFIX + keys.itemSnapshot(itemId))).toEqual(statsBefore);
    expect(await client.zscore(KEY_PREFIX + keys.poolPopular(), itemId)).toBe(popularBefore);
    expect(await client.hget(KEY_PREFIX + keys.sessionMeta(sessionId), 'events')).toBe('2');
  });
});
