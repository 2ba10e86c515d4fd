import { KafkaBus, type RecordBatch, type Subscription } from '@nexttap/bus';
import type { Interaction } from '@nexttap/events';
import { ITEM_STAT_FIELDS, applyCatalogItems, readItemSnapshots, readSessionSnapshot, type ItemSnapshot } from '@nexttap/features';
import { IngestProcessor, ingestConfigSchema } from '@nexttap/ingest';
import { createLogger, createMetricsRegistry, type Registry } from '@nexttap/observability';
import { RedisFeatureStore } from '@nexttap/store';
import { startMockKafka, startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMovieLens } from './feed-scenario';

const logger = createLogger({ level: 'silent', service: 'three-consumers' });
const PARTITIONS = 6;
/** Every 40th MovieLens rating: about 2,500 events over several hundred sessions, so every partition gets some. */
const SAMPLE_EVERY = 40;
/**
 * Consumer timing for the mock Kafka cluster: it needs a session timeout above 3 s, and a member
 * joining a group with members takes about the session timeout minus 1 s.
 */
const CONSUMER_TIMING = { sessionTimeoutMs: 4_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 8_000, maxWaitTimeMs: 100 };

/** One ingest consumer: its own bus connection, processor and metrics, writing to a shared store. */
interface Consumer {
  subscription: Subscription;
  metrics: Registry;
  partitions: Set<number>;
  bus: KafkaBus;
}

/** Returns the applied count of the interactions topic from a processor's metrics. */
async function appliedCount(metrics: Registry): Promise<number> {
  const metric = await metrics.getSingleMetric('nexttap_ingest_records_total')?.get();
  return (metric?.values ?? [])
    .filter((value) => value.labels.outcome === 'applied' && value.labels.topic === 'interactions')
    .reduce((sum, value) => sum + value.value, 0);
}

/**
 * Returns a snapshot with its stats as a plain record by field name. The stats of a batch of
 * snapshots share one typed array, which a field-by-field comparison must not walk whole.
 */
function comparable(item: ItemSnapshot | undefined): unknown {
  return item === undefined ? undefined : { ...item, stats: Object.fromEntries(ITEM_STAT_FIELDS.map((field) => [field, item.stats.get(field) ?? 0])) };
}

/** Compares numbers within 1e-9 relative (absolute below 1), NaN equal to NaN, everything else exactly. */
function expectClose(actual: unknown, expected: unknown, path: string): void {
  if (typeof expected === 'number' && Number.isNaN(expected)) {
    // A catalog record without a publish date has NaN as its publish time.
    expect(actual, path).toBeNaN();
  } else if (typeof expected === 'number' && typeof actual === 'number') {
    expect(Math.abs(actual - expected), `${path}: ${actual} against ${expected}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
  } else if (expected instanceof Map && actual instanceof Map) {
    expect([...actual.keys()].sort(), path).toEqual([...expected.keys()].sort());
    for (const [key, value] of expected) {
      expectClose(actual.get(key), value, `${path}.${String(key)}`);
    }
  } else if (expected instanceof Set && actual instanceof Set) {
    expect([...actual].sort(), path).toEqual([...expected].sort());
  } else if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    expect(Object.keys(actual).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected)) {
      expectClose((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    }
  } else {
    expect(actual, path).toEqual(expected);
  }
}

describe('three ingest consumers on six partitions', () => {
  let kafka: MockKafka;
  let redis: RedisServer;
  let client: Redis;
  let events: Interaction[];
  let three: Consumer[];
  let one: Consumer;
  const consumers: Consumer[] = [];
  const threePrefix = `${uniqueName('three')}:`;
  const onePrefix = `${uniqueName('one')}:`;
  const topicPrefix = uniqueName('scale');

  /** Starts a consumer of `groupId` that writes features under `keyPrefix`. */
  async function startConsumer(groupId: string, keyPrefix: string): Promise<Consumer> {
    const bus = new KafkaBus({ brokers: kafka.brokers, clientId: uniqueName('ingest'), logger, consumer: CONSUMER_TIMING });
    const metrics = createMetricsRegistry();
    const processor = new IngestProcessor({
      config: ingestConfigSchema.parse({ topicPrefix, maxEventLatenessMs: 3_000_000_000_000 }),
      store: new RedisFeatureStore(client, { keyPrefix }),
      bus,
      logger,
      metrics,
    });
    const partitions = new Set<number>();
    const subscription = await bus.subscribe({
      groupId,
      topics: processor.topics,
      fromBeginning: true,
      handleBatch: async (batch: RecordBatch) => {
        await processor.handleBatch(batch);
        if (batch.topic === processor.topics[0]) {
          partitions.add(batch.partition);
        }
      },
    });
    const consumer = { subscription, metrics, partitions, bus };
    consumers.push(consumer);
    return consumer;
  }

  beforeAll(async () => {
    [kafka, redis] = await Promise.all([
      startMockKafka({
        topics: [
          { name: `${topicPrefix}.interactions`, partitions: PARTITIONS },
          { name: `${topicPrefix}.catalog`, partitions: 1 },
          { name: `${topicPrefix}.interactions.dlq`, partitions: 1 },
        ],
      }),
      startRedisServer(),
    ]);
    client = new Redis(redis.url);
    const nowMs = Date.now();
    const data = await loadMovieLens(nowMs);
    // One event a second up to now, in MovieLens order, so the hour and day counters are far from zero when compared.
    const sample = data.events.filter((_, index) => index % SAMPLE_EVERY === 0);
    events = sample.map((event, index) => ({ ...event, ts: nowMs - (sample.length - index) * 1_000 }));

    // The catalog goes straight into both key spaces, so that every event is planned with its
    // item's categories whichever topic a consumer happens to read first.
    await applyCatalogItems(new RedisFeatureStore(client, { keyPrefix: threePrefix }), data.catalog);
    await applyCatalogItems(new RedisFeatureStore(client, { keyPrefix: onePrefix }), data.catalog);

    // All three members join before any interaction is produced, so the partitions are shared from
    // the start. They join one after another, because the mock cluster (librdkafka 2.0.2) sometimes
    // answers a SyncGroup during a rebalance with INVALID_REQUEST, more often when members join at
    // once. KafkaBus runs a consumer again after that crash.
    const groupId = uniqueName('ingest-three');
    three = [];
    for (let member = 0; member < 3; member++) {
      three.push(await startConsumer(groupId, threePrefix));
    }
    one = await startConsumer(uniqueName('ingest-one'), onePrefix);
    const producer = new KafkaBus({ brokers: kafka.brokers, clientId: uniqueName('producer'), logger });
    const records = events.map((event) => ({ key: event.sessionId, value: JSON.stringify(event) }));
    for (let start = 0; start < records.length; start += 500) {
      await producer.produce(`${topicPrefix}.interactions`, records.slice(start, start + 500));
    }
    await producer.close();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(consumers.map(async (consumer) => {
      await consumer.subscription.stop();
      await consumer.bus.close();
    }));
    client?.disconnect();
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  it('applies every event once in each group', async () => {
    await expect.poll(async () => (await Promise.all(three.map((consumer) => appliedCount(consumer.metrics)))).reduce((sum, count) => sum + count, 0), { timeout: 60_000 }).toBe(events.length);
    await expect.poll(() => appliedCount(one.metrics), { timeout: 60_000 }).toBe(events.length);
  });

  it('shares the six partitions among the three', () => {
    for (const consumer of three) {
      expect(consumer.partitions.size).toBeGreaterThan(0);
    }
    const covered = new Set(three.flatMap((consumer) => [...consumer.partitions]));
    expect(covered.size).toBe(PARTITIONS);
  });

  it('computes the same item features as one consumer', async () => {
    const nowMs = Date.now();
    const itemIds = [...new Set(events.map((event) => event.itemId))];
    const fromThree = await readItemSnapshots(new RedisFeatureStore(client, { keyPrefix: threePrefix }), itemIds, nowMs);
    const fromOne = await readItemSnapshots(new RedisFeatureStore(client, { keyPrefix: onePrefix }), itemIds, nowMs);
    expect(fromThree).toHaveLength(itemIds.length);
    expect(fromOne.filter((item) => item.positiveDay > 0.5).length).toBeGreaterThan(itemIds.length / 2);
    fromOne.forEach((expected: ItemSnapshot, index) => {
      expectClose(comparable(fromThree[index]), comparable(expected), `item ${expected.itemId}`);
    });
  });

  it('computes the same session features as one consumer', async () => {
    const nowMs = Date.now();
    const sessions = new Map(events.map((event) => [event.sessionId, event.userId]));
    for (const [sessionId, userId] of [...sessions].slice(0, 100)) {
      const fromThree = await readSessionSnapshot(new RedisFeatureStore(client, { keyPrefix: threePrefix }), sessionId, userId, nowMs);
      const fromOne = await readSessionSnapshot(new RedisFeatureStore(client, { keyPrefix: onePrefix }), sessionId, userId, nowMs);
      expectClose(fromThree, fromOne, `session ${sessionId}`);
    }
  });
});
