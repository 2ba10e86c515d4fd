import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { toWireCatalogItem, type Interaction } from '@nexttap/events';
import { createLogger } from '@nexttap/observability';
import { startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { appliedEventIds, applyReference, countAppliedEvents, expectSameFeatures, openStore } from './feature-state';
import { expectNoRecordDropped, ingestEnvironment, kafkaClient, produceEvents, readEventPositions, reportFigures, runTopics, settleLater, startCluster, waitForCaughtUp, type RunTopics } from './harness';
import { buildWorkload } from './workload';

const KEY_PREFIX = 'outage:';

/** Log lines of an in-process server, kept so a test can count retries. */
function capturingLogger(lines: Array<Record<string, unknown>>) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text.length > 0) {
          lines.push(JSON.parse(text) as Record<string, unknown>);
        }
      }
      done();
    },
  });
  return createLogger({ level: 'warn', service: 'outage' }, destination);
}

interface Run {
  topics: RunTopics;
  kafka: MockKafka;
  redis: RedisServer;
  reference: RedisServer;
  client: Kafka;
  producer: Producer;
  admin: Admin;
  server: RunningServer;
  groupId: string;
  logLines: Array<Record<string, unknown>>;
}

let run: Run | undefined;

async function startRun(name: string, brokers: number): Promise<Run> {
  const topics = runTopics(uniqueName(name));
  const [kafka, redis, reference] = await Promise.all([startCluster(topics, 6, brokers), startRedisServer(), startRedisServer()]);
  const client = kafkaClient(kafka, `${name}-test`);
  const producer = client.producer();
  const admin = client.admin();
  await Promise.all([producer.connect(), admin.connect()]);
  const groupId = uniqueName('ingest');
  const logLines: Array<Record<string, unknown>> = [];
  const config = parseServerConfig({ PORT: '0', SEED_DATASET: 'none', ...ingestEnvironment(kafka, redis.url, KEY_PREFIX, topics, groupId) });
  const server = await startServer('ingest', config, { logger: capturingLogger(logLines) });
  run = { topics, kafka, redis, reference, client, producer, admin, server, groupId, logLines };
  return run;
}

afterEach(async () => {
  const current = run;
  run = undefined;
  await current?.server.close();
  await Promise.all([current?.producer.disconnect(), current?.admin.disconnect()]);
  await Promise.all([current?.kafka.stop(), current?.redis.stop(), current?.reference.stop()]);
});

describe('broker down and up', () => {
  it('replies 503 with Retry-After while down and applies every accepted event', async () => {
    const { topics, kafka, redis, reference, admin, server, groupId } = await startRun('broker', 1);
    const startedMs = Date.now();
    const workload = buildWorkload({ events: 20_000, sessions: 500, items: 200, idPrefix: topics.prefix, endMs: startedMs, seed: 31 });
    const catalogReply = await server.app.inject({ method: 'POST', url: '/v1/catalog', payload: { items: workload.catalog.map(toWireCatalogItem) } });
    expect(catalogReply.statusCode).toBe(202);
    await waitForCaughtUp(admin, groupId, topics.catalog, 60_000);
    // Every event is to be applied once, so the uninterrupted run is built while the broker is away.
    const referenceBuilt = settleLater(applyReference(reference.url, KEY_PREFIX, workload, workload.events));

    const batchSize = 100;
    const batches = Math.ceil(workload.events.length / batchSize);
    let sentBatches = 0;
    const outage = { downAtMs: 0, upAtMs: 0 };
    const controller = (async () => {
      while (sentBatches < batches / 4) {
        await sleep(20);
      }
      await kafka.setBrokerDown(1);
      outage.downAtMs = Date.now() - startedMs;
      await sleep(15_000);
      await kafka.setBrokerUp(1);
      outage.upAtMs = Date.now() - startedMs;
    })();

    const replies = { accepted: 0, unavailable: 0, slowestMs: 0 };
    for (let start = 0; start < workload.events.length; start += batchSize) {
      const events = workload.events.slice(start, start + batchSize);
      // The client retries a 503 after Retry-After, as docs/errors.md instructs.
      for (;;) {
        const requestStartMs = Date.now();
        const reply = await server.app.inject({ method: 'POST', url: '/v1/events', payload: { events } });
        replies.slowestMs = Math.max(replies.slowestMs, Date.now() - requestStartMs);
        if (reply.statusCode === 202) {
          expect(reply.json()).toEqual({ accepted: events.length, rejected: [] });
          replies.accepted += 1;
          break;
        }
        expect(reply.statusCode, reply.body).toBe(503);
        expect(reply.json().error.code).toBe('INGEST_ERR_BUS_UNAVAILABLE');
        const retryAfterSeconds = Number(reply.headers['retry-after']);
        expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
        replies.unavailable += 1;
        await sleep(retryAfterSeconds * 1_000);
      }
      sentBatches += 1;
    }
    await controller;
    expect(replies.unavailable).toBeGreaterThan(0);

    await waitForCaughtUp(admin, groupId, topics.interactions, 180_000);
    await expectNoRecordDropped(admin, topics.interactions);
    await referenceBuilt();
    const actual = openStore(redis.url, KEY_PREFIX);
    const expected = openStore(reference.url, KEY_PREFIX);
    try {
      expect(await countAppliedEvents(actual.redis, KEY_PREFIX)).toBe(workload.events.length);
      await expectSameFeatures(actual.store, expected.store, workload, Date.now());
    } finally {
      await Promise.all([actual.close(), expected.close()]);
    }
    reportFigures({ run: 'broker-outage', events: workload.events.length, outage, replies, durationMs: Date.now() - startedMs });
  });
});

describe('Redis restarted during ingest', () => {
  it('resumes and applies every record from its committed offsets on', async () => {
    const { topics, redis, reference, client, producer, admin, groupId, logLines } = await startRun('redis', 3);
    const startedMs = Date.now();
    const workload = buildWorkload({ events: 30_000, sessions: 800, items: 200, idPrefix: topics.prefix, endMs: startedMs, seed: 43 });
    const restart = { atProduced: 0, durationMs: 0 };
    await produceEvents(producer, topics.interactions, workload.events, {
      batchSize: 500,
      pauseMs: 50,
      onBatch: async (produced) => {
        if (restart.atProduced === 0 && produced >= workload.events.length / 3) {
          restart.atProduced = produced;
          const restartStartMs = Date.now();
          // The new server is empty: without persistence Redis loses what it held, and ingest goes on from its offsets.
          await redis.restart();
          restart.durationMs = Date.now() - restartStartMs;
        }
      },
    });
    await waitForCaughtUp(admin, groupId, topics.interactions, 180_000);
    await expectNoRecordDropped(admin, topics.interactions);

    const positions = await readEventPositions(client, admin, topics.interactions, uniqueName('positions'));
    const inspector = openStore(redis.url, KEY_PREFIX);
    const applied = await appliedEventIds(inspector.redis, KEY_PREFIX);
    expect(applied.size).toBeGreaterThan(0);
    expect(applied.size).toBeLessThan(workload.events.length);

    // No gap: on each partition the applied records are every record from some offset to the end.
    const firstApplied = new Map<number, number>();
    for (const eventId of applied) {
      const position = positions.get(eventId);
      expect(position, eventId).toBeDefined();
      if (position !== undefined) {
        firstApplied.set(position.partition, Math.min(firstApplied.get(position.partition) ?? Infinity, position.offset));
      }
    }
    const expectedEvents: Interaction[] = workload.events.filter((event) => {
      const position = positions.get(event.eventId);
      return position !== undefined && position.offset >= (firstApplied.get(position.partition) ?? Infinity);
    });
    expect(applied.size).toBe(expectedEvents.length);
    const producedAfterRestart = workload.events.length - restart.atProduced;
    expect(applied.size).toBeGreaterThanOrEqual(producedAfterRestart);

    // The reference starts empty as well: the wiped Redis also lost the sessions' earlier state.
    await applyReference(reference.url, KEY_PREFIX, undefined, expectedEvents);
    const expected = openStore(reference.url, KEY_PREFIX);
    try {
      await expectSameFeatures(inspector.store, expected.store, workload, Date.now());
    } finally {
      await Promise.all([inspector.close(), expected.close()]);
    }
    const failedBatches = logLines.filter((line) => line.msg === 'batch handler failed, delivering the batch again').length;
    reportFigures(
      { run: 'redis-restart', events: workload.events.length, restart, appliedAfterRestart: applied.size, producedAfterRestart, failedBatches, durationMs: Date.now() - startedMs },
    );
  });
});
