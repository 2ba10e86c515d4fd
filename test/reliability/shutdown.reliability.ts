import { startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appliedEventIds, openStore } from './feature-state';
import { IngestProcess, committedOffsets, expectNoRecordDropped, ingestEnvironment, kafkaClient, produceEvents, readEventPositions, reportFigures, runTopics, startCluster, type RunTopics } from './harness';
import { buildWorkload } from './workload';

const KEY_PREFIX = 'shutdown:';
/** Keeps each partition under the mock broker's 5 MiB retention (see expectNoRecordDropped). */
const PARTITIONS = 12;
/** Concurrent clients posting to the collector while the process receives SIGTERM. */
const CLIENTS = 8;
const EVENTS_PER_REQUEST = 50;
/** A request sent this long before SIGTERM has reached the server over loopback, so it is in flight. */
const IN_FLIGHT_MARGIN_MS = 20;

interface RequestOutcome {
  startedMs: number;
  status: number | 'network-error';
  eventIds: string[];
}

describe('SIGTERM under load', () => {
  const topics: RunTopics = runTopics(uniqueName('shutdown'));
  let kafka: MockKafka;
  let redis: RedisServer;
  let client: Kafka;
  let producer: Producer;
  let admin: Admin;
  let ingest: IngestProcess | undefined;

  beforeAll(async () => {
    [kafka, redis] = await Promise.all([startCluster(topics, PARTITIONS), startRedisServer()]);
    client = kafkaClient(kafka, 'shutdown-test');
    producer = client.producer();
    admin = client.admin();
    await Promise.all([producer.connect(), admin.connect()]);
  });

  afterAll(async () => {
    ingest?.kill('SIGKILL');
    await Promise.all([producer?.disconnect(), admin?.disconnect()]);
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  it('answers in-flight requests and commits exactly what it applied', async () => {
    const startedMs = Date.now();
    const workload = buildWorkload({ events: 150_000, sessions: 3_000, items: 300, idPrefix: topics.prefix, endMs: startedMs, seed: 59 });
    const backlog = workload.events.slice(0, 100_000);
    const viaCollector = workload.events.slice(100_000);
    const groupId = uniqueName('ingest');
    ingest = new IngestProcess(ingestEnvironment(kafka, redis.url, KEY_PREFIX, topics, groupId));
    await ingest.waitForMessage('server ready');
    const url = ingest.url() as string;
    await ingest.waitForMessage('consumer joined group');
    // A backlog keeps the consumer busy with batches when the signal arrives.
    await produceEvents(producer, topics.interactions, backlog, { batchSize: 2_000 });

    const outcomes: RequestOutcome[] = [];
    let next = 0;
    let stopping = false;
    const postEvents = async () => {
      while (!stopping || outcomes.length === 0) {
        const events = viaCollector.slice(next, next + EVENTS_PER_REQUEST);
        next += EVENTS_PER_REQUEST;
        if (events.length === 0) {
          return;
        }
        const outcome: RequestOutcome = { startedMs: Date.now(), status: 'network-error', eventIds: events.map((event) => event.eventId) };
        outcomes.push(outcome);
        try {
          const response = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
          outcome.status = response.status;
          await response.arrayBuffer();
        } catch {
          return;
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, () => postEvents());
    await expect.poll(() => outcomes.filter((outcome) => outcome.status === 202).length, { timeout: 30_000 }).toBeGreaterThan(100);

    const signalMs = Date.now();
    ingest.kill('SIGTERM');
    stopping = true;
    const exit = await ingest.exited;
    const shutdownMs = Date.now() - signalMs;
    await Promise.all(clients);
    expect(exit.code).toBe(0);
    expect(ingest.countMessages('server stopped'), ingest.tail()).toBe(1);
    expect(ingest.countMessages('shutdown timed out; exiting with work in flight')).toBe(0);
    ingest = undefined;

    // Every request in flight at the signal got its reply. A request sent in the last moments before
    // the signal may still be on its way over a keep-alive connection that the server closes as
    // idle. A client sees that as a network error and retries, so the check starts 20 ms earlier.
    const beforeSignal = outcomes.filter((outcome) => outcome.startedMs < signalMs - IN_FLIGHT_MARGIN_MS);
    const unanswered = beforeSignal.filter((outcome) => outcome.status !== 202);
    expect(unanswered).toEqual([]);

    // The committed offsets cover exactly the applied records: nothing applied stays uncommitted, nothing committed is unapplied.
    await expectNoRecordDropped(admin, topics.interactions);
    const positions = await readEventPositions(client, admin, topics.interactions, uniqueName('positions'));
    const accepted = outcomes.filter((outcome) => outcome.status === 202).flatMap((outcome) => outcome.eventIds);
    for (const eventId of accepted) {
      expect(positions.has(eventId), `accepted event ${eventId} is on the topic`).toBe(true);
    }
    const committed = await committedOffsets(admin, groupId, topics.interactions);
    const inspector = openStore(redis.url, KEY_PREFIX);
    const applied = await appliedEventIds(inspector.redis, KEY_PREFIX);
    await inspector.close();
    let mismatches = 0;
    for (const [eventId, position] of positions) {
      const isCommitted = position.offset < (committed.get(position.partition) ?? 0);
      if (isCommitted !== applied.has(eventId)) {
        mismatches += 1;
      }
    }
    expect(mismatches).toBe(0);
    const committedRecords = [...committed.values()].reduce((sum, offset) => sum + offset, 0);
    expect(committedRecords).toBeGreaterThan(0);
    expect(committedRecords).toBeLessThan(positions.size);
    reportFigures(
      {
        run: 'graceful-shutdown',
        requestsBeforeSignal: beforeSignal.length,
        accepted: accepted.length,
        shutdownMs,
        committedRecords,
        recordsOnTopic: positions.size,
      },
    );
  });
});
