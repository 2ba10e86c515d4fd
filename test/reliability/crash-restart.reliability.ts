import { setTimeout as sleep } from 'node:timers/promises';
import { toWireCatalogItem } from '@nexttap/events';
import { startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyReference, countAppliedEvents, expectSameFeatures, openStore } from './feature-state';
import { CONSUMER_TIMINGS, expectNoRecordDropped, IngestProcess, ingestEnvironment, kafkaClient, produceEvents, reportFigures, runTopics, settleLater, startCluster, waitForCaughtUp, type RunTopics } from './harness';
import { buildWorkload, seededRandom } from './workload';

/** Events of the run and SIGKILLs during it; RELIABILITY_EVENTS and RELIABILITY_KILLS shrink them for a quick look. */
const EVENTS = Number(process.env.RELIABILITY_EVENTS ?? 200_000);
const KILLS = Number(process.env.RELIABILITY_KILLS ?? 10);
const KEY_PREFIX = 'crash:';
/** About 280 bytes a record: 16 partitions keep each under the mock broker's 5 MiB retention (see expectNoRecordDropped). */
const PARTITIONS = 16;
/**
 * A restarted process starts in about 3 s and joins after the coordinator gave up on the killed
 * member, one or two session timeouts later (see CONSUMER_TIMINGS). The stream is paced to last
 * about as long as the kills, so that most kills land while records are flowing.
 */
const EXPECTED_REJOIN_MS = 3_000 + 2 * CONSUMER_TIMINGS.sessionTimeoutMs;

describe('ingest killed with SIGKILL during a stream', () => {
  const topics: RunTopics = runTopics(uniqueName('crash'));
  let kafka: MockKafka;
  let redis: RedisServer;
  let reference: RedisServer;
  let producer: Producer;
  let admin: Admin;
  let ingest: IngestProcess | undefined;

  beforeAll(async () => {
    [kafka, redis, reference] = await Promise.all([startCluster(topics, PARTITIONS), startRedisServer(), startRedisServer()]);
    const client = kafkaClient(kafka, 'crash-test');
    producer = client.producer();
    admin = client.admin();
    await Promise.all([producer.connect(), admin.connect()]);
  });

  afterAll(async () => {
    ingest?.kill('SIGKILL');
    await Promise.all([producer?.disconnect(), admin?.disconnect()]);
    await Promise.all([kafka?.stop(), redis?.stop(), reference?.stop()]);
  });

  it('ends with the features of an uninterrupted run', async () => {
    const startedMs = Date.now();
    const workload = buildWorkload({ events: EVENTS, sessions: 3_000, items: 400, idPrefix: topics.prefix, endMs: startedMs, seed: 7 });
    await producer.send({ topic: topics.catalog, messages: workload.catalog.map((item) => ({ key: item.itemId, value: JSON.stringify(toWireCatalogItem(item)) })) });
    // The uninterrupted run needs only the workload, so it is built while the faults play out.
    const referenceBuilt = settleLater(applyReference(reference.url, KEY_PREFIX, workload, workload.events));

    const groupId = uniqueName('ingest');
    const environment = ingestEnvironment(kafka, redis.url, KEY_PREFIX, topics, groupId);
    ingest = new IngestProcess(environment);
    await ingest.waitForMessage('consumer joined group');
    await waitForCaughtUp(admin, groupId, topics.catalog, 60_000);

    let produced = 0;
    const production = produceEvents(producer, topics.interactions, workload.events, {
      batchSize: 1_000,
      spreadOverMs: KILLS * EXPECTED_REJOIN_MS * 0.8,
      onBatch: (count) => void (produced = count),
    });

    const random = seededRandom(11);
    const { redis: inspector, store, close } = openStore(redis.url, KEY_PREFIX);
    const kills: Array<{ atMs: number; produced: number; redisKeys: number; rejoinMs: number }> = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const joinStartMs = Date.now();
      await ingest.waitForMessage('consumer joined group');
      const rejoinMs = Date.now() - joinStartMs;
      // A random moment after the join: the backlog of the rejoin wait is usually still being applied.
      await sleep(100 + random() * 1_500);
      ingest.kill('SIGKILL');
      await ingest.exited;
      kills.push({ atMs: Date.now() - startedMs, produced, redisKeys: await inspector.dbsize(), rejoinMs });
      ingest = new IngestProcess(environment);
    }
    const phasesMs: Record<string, number> = { kills: Date.now() - startedMs };
    await production;
    phasesMs.produced = Date.now() - startedMs;
    await expectNoRecordDropped(admin, topics.interactions);
    await ingest.waitForMessage('consumer joined group');
    await waitForCaughtUp(admin, groupId, topics.interactions, 300_000);
    phasesMs.caughtUp = Date.now() - startedMs;
    ingest.kill('SIGTERM');
    expect((await ingest.exited).code).toBe(0);
    ingest = undefined;

    await referenceBuilt();
    phasesMs.referenceBuilt = Date.now() - startedMs;
    const expected = openStore(reference.url, KEY_PREFIX);
    try {
      expect(await countAppliedEvents(inspector, KEY_PREFIX)).toBe(EVENTS);
      await expectSameFeatures(store, expected.store, workload, Date.now());
    } finally {
      await Promise.all([close(), expected.close()]);
    }
    reportFigures({ run: 'crash-restart', events: EVENTS, kills, phasesMs, durationMs: Date.now() - startedMs });
  });
});
