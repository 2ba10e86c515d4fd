import { toWireCatalogItem } from '@nexttap/events';
import { startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyReference, countAppliedEvents, expectSameFeatures, openStore } from './feature-state';
import { CONSUMER_TIMINGS, expectNoRecordDropped, IngestProcess, ingestEnvironment, kafkaClient, produceEvents, reportFigures, runTopics, settleLater, startCluster, waitForCaughtUp, type RunTopics } from './harness';
import { buildWorkload } from './workload';

const EVENTS = Number(process.env.RELIABILITY_REBALANCE_EVENTS ?? 100_000);
const KEY_PREFIX = 'rebalance:';
/** Keeps each partition under the mock broker's 5 MiB retention (see expectNoRecordDropped). */
const PARTITIONS = 12;
/** Each of the four membership changes takes a process start of about 3 s and one or two session timeouts. */
const EXPECTED_DURATION_MS = 4 * (3_000 + 2 * CONSUMER_TIMINGS.sessionTimeoutMs);

/** Partitions of the interactions topic in a `consumer joined group` line. */
function assignedPartitions(line: Record<string, unknown> | undefined, topic: string): number[] {
  const assignment = (line?.assignment ?? {}) as Record<string, number[]>;
  return assignment[topic] ?? [];
}

function lastJoin(process: IngestProcess): Record<string, unknown> | undefined {
  return process.logLines().filter((line) => line.msg === 'consumer joined group').at(-1);
}

/**
 * Waits until the latest joins of `current` split the topic's partitions between them: every
 * member has some, none twice, all covered. A rebalance can take several rounds, so this waits for
 * the outcome rather than counting joins. It fails at once when a member exits meanwhile.
 */
async function waitForSplit(current: IngestProcess[], topic: string): Promise<void> {
  const split = vi.waitFor(
    () => {
      const assignments = current.map((member) => assignedPartitions(lastJoin(member), topic));
      const all = assignments.flat();
      if (assignments.some((partitions) => partitions.length === 0) || all.length !== PARTITIONS || new Set(all).size !== PARTITIONS) {
        const members = current.map((member) => member.describe()).join('\n');
        throw new Error(`partitions not yet split between ${current.length} members: ${JSON.stringify(assignments)}\n${members}`);
      }
    },
    { timeout: 180_000, interval: 250 },
  );
  // The poll keeps running after a member exited; its later rejection is not the failure to report.
  split.catch(() => {});
  const exited = Promise.race(current.map((member) => member.exited.then(() => member)));
  const outcome = await Promise.race([split.then(() => undefined), exited]);
  if (outcome !== undefined) {
    throw new Error(`a member exited while the partitions were being split: ${outcome.describe()}`);
  }
}

describe('consumer group growing from 1 to 3 and back', () => {
  const topics: RunTopics = runTopics(uniqueName('rebalance'));
  let kafka: MockKafka;
  let redis: RedisServer;
  let reference: RedisServer;
  let producer: Producer;
  let admin: Admin;
  const members: IngestProcess[] = [];

  beforeAll(async () => {
    [kafka, redis, reference] = await Promise.all([startCluster(topics, PARTITIONS), startRedisServer(), startRedisServer()]);
    const client = kafkaClient(kafka, 'rebalance-test');
    producer = client.producer();
    admin = client.admin();
    await Promise.all([producer.connect(), admin.connect()]);
  });

  afterAll(async () => {
    for (const member of members) {
      member.kill('SIGKILL');
    }
    await Promise.all([producer?.disconnect(), admin?.disconnect()]);
    await Promise.all([kafka?.stop(), redis?.stop(), reference?.stop()]);
  });

  it('ends with the features of an uninterrupted run', async () => {
    const startedMs = Date.now();
    const workload = buildWorkload({ events: EVENTS, sessions: 2_000, items: 300, idPrefix: topics.prefix, endMs: startedMs, seed: 23 });
    await producer.send({ topic: topics.catalog, messages: workload.catalog.map((item) => ({ key: item.itemId, value: JSON.stringify(toWireCatalogItem(item)) })) });
    // The uninterrupted run needs only the workload, so it is built while the group changes.
    const referenceBuilt = settleLater(applyReference(reference.url, KEY_PREFIX, workload, workload.events));
    const groupId = uniqueName('ingest');
    const environment = ingestEnvironment(kafka, redis.url, KEY_PREFIX, topics, groupId);

    const first = new IngestProcess(environment);
    members.push(first);
    await first.waitForMessage('consumer joined group');
    await waitForCaughtUp(admin, groupId, topics.catalog, 60_000);
    expect(assignedPartitions(lastJoin(first), topics.interactions)).toHaveLength(PARTITIONS);

    const production = produceEvents(producer, topics.interactions, workload.events, { batchSize: 500, spreadOverMs: EXPECTED_DURATION_MS * 0.9 });
    const steps: Array<{ step: string; atMs: number; partitions: number[][] }> = [];
    const record = (step: string, current: IngestProcess[]) =>
      steps.push({ step, atMs: Date.now() - startedMs, partitions: current.map((member) => assignedPartitions(lastJoin(member), topics.interactions)) });

    // Grow: each new member joins, and the earlier members rejoin with fewer partitions.
    const second = new IngestProcess(environment);
    members.push(second);
    await waitForSplit([first, second], topics.interactions);
    record('2 members', [first, second]);
    const third = new IngestProcess(environment);
    members.push(third);
    await waitForSplit([first, second, third], topics.interactions);
    record('3 members', [first, second, third]);

    // Shrink: members leave with SIGTERM, committing what they processed, and the rest take over.
    third.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
    await waitForSplit([first, second], topics.interactions);
    record('2 members again', [first, second]);
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    await waitForSplit([first], topics.interactions);
    record('1 member again', [first]);

    await production;
    const phasesMs: Record<string, number> = { produced: Date.now() - startedMs };
    await expectNoRecordDropped(admin, topics.interactions);
    await waitForCaughtUp(admin, groupId, topics.interactions, 300_000);
    phasesMs.caughtUp = Date.now() - startedMs;
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    await referenceBuilt();
    phasesMs.referenceBuilt = Date.now() - startedMs;
    const actual = openStore(redis.url, KEY_PREFIX);
    const expected = openStore(reference.url, KEY_PREFIX);
    try {
      expect(await countAppliedEvents(actual.redis, KEY_PREFIX)).toBe(EVENTS);
      await expectSameFeatures(actual.store, expected.store, workload, Date.now());
    } finally {
      await Promise.all([actual.close(), expected.close()]);
    }
    const countAll = (message: string) => members.reduce((sum, member) => sum + member.countMessages(message), 0);
    const restartedConsumers = countAll('consumer crashed, running it again');
    const joins = countAll('consumer joined group');
    reportFigures({ run: 'rebalance', events: EVENTS, steps, joins, restartedConsumers, phasesMs, durationMs: Date.now() - startedMs });
  });
});
