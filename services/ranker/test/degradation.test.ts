import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeLinearModel } from '@nexttap/model';
import { RedisFeatureStore } from '@nexttap/store';
import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRanker, writeCatalog, writeEvents, type RankerApp } from './ranker-fixture';

const BUDGET_MS = 30;
/** How long Redis is paused; a request that waited for Redis would take at least this long. */
const STALL_MS = 2_000;
/**
 * Bound on a degraded request's time. It only shows that the request did not wait for Redis: the
 * latency itself is measured by the benchmark, and a loaded test machine can add tens of ms.
 */
const NOT_WAITING_MS = 500;
const ITEMS = Array.from({ length: 30 }, (_, index) => ({ itemId: `item-${index}`, categories: [index % 2 === 0 ? 'Even' : 'Odd'] }));

describe('degradation when Redis fails', () => {
  let redis: RedisServer;
  let writer: Redis;
  let reader: Redis;
  let instance: RankerApp;
  let directory: string;
  let keyPrefix: string;

  async function seed(): Promise<void> {
    const store = new RedisFeatureStore(writer, { keyPrefix });
    await writeCatalog(store, ITEMS);
    await writeEvents(store, Date.now(), ITEMS.slice(0, 10).map((item) => ({ itemId: item.itemId, type: 'like', ts: Date.now() - 1_000 })));
  }

  async function timedFeed(sessionId: string) {
    const startedMs = performance.now();
    const response = await instance.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId, limit: 5 } });
    return { response, elapsedMs: performance.now() - startedMs };
  }

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'nexttap-degradation-'));
    await writeLinearModel(directory, { item_popularity_week: 1 });
    redis = await startRedisServer();
    keyPrefix = `${uniqueName('degrade')}:`;
    writer = new Redis(redis.url, { maxRetriesPerRequest: null });
    // The ranker's client as the server builds it: short command timeout and no offline queue.
    reader = new Redis(redis.url, { commandTimeout: 50, enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
    reader.on('error', () => undefined);
    await reader.connect();
    await seed();
    instance = await startRanker(new RedisFeatureStore(reader, { keyPrefix }), directory, Date.now, {
      feedStoreBudgetMs: String(BUDGET_MS),
      poolRefreshIntervalMs: '100',
    });
  });

  afterAll(async () => {
    await instance?.close();
    writer?.disconnect();
    reader?.disconnect();
    await redis?.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it('serves from the store while Redis answers', async () => {
    const { response } = await timedFeed('healthy');
    expect(response.statusCode).toBe(200);
    expect(response.json().degraded).toBeUndefined();
    expect(response.json().items).toHaveLength(5);
  });

  it('serves degraded feeds without waiting for a stalled Redis', async () => {
    // CLIENT PAUSE delays every client's commands, as a stalled or overloaded server would.
    await writer.call('CLIENT', 'PAUSE', String(STALL_MS), 'ALL');
    const outcomes = [];
    for (let index = 0; index < 5; index++) {
      outcomes.push(await timedFeed(`stalled-${index}`));
    }
    for (const { response, elapsedMs } of outcomes) {
      expect(response.statusCode).toBe(200);
      expect(response.json().degraded.reason).toBe('store-timeout');
      expect(response.json().items).toHaveLength(5);
      expect(elapsedMs).toBeLessThan(NOT_WAITING_MS);
    }
    await expect.poll(async () => (await timedFeed('after-stall')).response.json().degraded, { timeout: 5_000, interval: 50 }).toBeUndefined();
  });

  it('serves every request while Redis restarts, then stops degrading', async () => {
    const outcomes: Array<{ status: number; reason: string | undefined; elapsedMs: number; items: number }> = [];
    let recovered = false;
    const load = (async () => {
      for (let index = 0; index < 20_000 && !recovered; index++) {
        const { response, elapsedMs } = await timedFeed(`restart-${index}`);
        const body = response.json();
        outcomes.push({ status: response.statusCode, reason: body.degraded?.reason, elapsedMs, items: body.items?.length ?? 0 });
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await redis.restart();
    // The new server is empty (no persistence), so the data comes back by seeding it again.
    await seed();
    await expect
      .poll(async () => (await timedFeed('after-restart')).response.json().degraded, { timeout: 10_000, interval: 50 })
      .toBeUndefined();
    recovered = true;
    await load;

    expect(outcomes.filter((outcome) => outcome.status !== 200)).toEqual([]);
    const degraded = outcomes.filter((outcome) => outcome.reason !== undefined);
    expect(degraded.length).toBeGreaterThan(0);
    expect(degraded.filter((outcome) => outcome.reason !== 'store-unavailable' && outcome.reason !== 'store-timeout')).toEqual([]);
    expect(degraded.every((outcome) => outcome.items === 5)).toBe(true);
    expect(Math.max(...outcomes.map((outcome) => outcome.elapsedMs))).toBeLessThan(NOT_WAITING_MS);
    const after = await timedFeed('recovered');
    expect(after.response.json().degraded).toBeUndefined();
    expect(await instance.metrics.getSingleMetricAsString('nexttap_feed_degraded_total')).toContain('reason="store-unavailable"');
  });
});
