import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Interaction } from '@nexttap/events';
import { startMockKafka, type MockKafka } from '@nexttap/testkit';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { expect, vi } from 'vitest';

const REPOSITORY_ROOT = new URL('../..', import.meta.url).pathname;

/** Topic names of one run, under a unique prefix. */
export interface RunTopics {
  prefix: string;
  interactions: string;
  catalog: string;
  deadLetters: string;
}

export function runTopics(prefix: string): RunTopics {
  return { prefix, interactions: `${prefix}.interactions`, catalog: `${prefix}.catalog`, deadLetters: `${prefix}.interactions.dlq` };
}

/** Starts a mock cluster with the run's topics: `partitions` for interactions, one for the others. */
export async function startCluster(topics: RunTopics, partitions: number, brokers = 3): Promise<MockKafka> {
  return startMockKafka({
    brokers,
    topics: [
      { name: topics.interactions, partitions },
      { name: topics.catalog, partitions: 1 },
      { name: topics.deadLetters, partitions: 1 },
    ],
  });
}

export function kafkaClient(kafka: MockKafka, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: kafka.brokers, logLevel: logLevel.NOTHING });
}

/**
 * Produces events as the collector would: JSON, keyed by session, in batches of `batchSize`.
 * `pauseMs` waits that long after each batch. `spreadOverMs` instead starts batch i at i / batches
 * of that span after the first, so the stream lasts about that long however slow each send is.
 */
export async function produceEvents(
  producer: Producer,
  topic: string,
  events: readonly Interaction[],
  options: { batchSize: number; pauseMs?: number; spreadOverMs?: number; onBatch?: (producedCount: number) => Promise<void> | void },
): Promise<void> {
  const startedMs = Date.now();
  const batches = Math.ceil(events.length / options.batchSize);
  for (let index = 0; index < batches; index++) {
    const start = index * options.batchSize;
    const batch = events.slice(start, start + options.batchSize);
    await producer.send({ topic, messages: batch.map((event) => ({ key: event.sessionId, value: JSON.stringify(event) })) });
    await options.onBatch?.(start + batch.length);
    // Pacing spreads the stream over the faults; it is the producer's rate, not a wait for a result.
    const nextStartMs = options.spreadOverMs === undefined ? 0 : startedMs + ((index + 1) * options.spreadOverMs) / batches;
    const waitMs = Math.max(options.pauseMs ?? 0, nextStartMs - Date.now());
    if (waitMs > 0) {
      await sleep(waitMs);
    }
  }
}

/** Waits until the group's committed offsets reach the end of every partition of `topic`. */
export async function waitForCaughtUp(admin: Admin, groupId: string, topic: string, timeoutMs: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const end of ends) {
        const offset = committed?.partitions.find((partition) => partition.partition === end.partition)?.offset ?? '-1';
        if (Number(end.high) > 0 && offset !== end.high) {
          throw new Error(`partition ${end.partition}: committed ${offset} of ${end.high}`);
        }
      }
    },
    { timeout: timeoutMs, interval: 500 },
  );
}

/** Committed offset of each partition, as a number (0 when none was committed). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((committed?.partitions ?? []).map((partition) => [partition.partition, Math.max(0, Number(partition.offset))]));
}

/** Reads a topic from start to end with a fresh consumer group and returns where each eventId sits. */
export async function readEventPositions(kafka: Kafka, admin: Admin, topic: string, groupId: string): Promise<Map<string, { partition: number; offset: number }>> {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((end) => [end.partition, Number(end.high)]));
  const total = [...ends.values()].reduce((sum, high) => sum + high, 0);
  const positions = new Map<string, { partition: number; offset: number }>();
  let seen = 0;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 6_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        seen += 1;
        const eventId = (JSON.parse(message.value?.toString() ?? '{}') as { eventId?: string }).eventId;
        // A record written twice by a retried produce keeps its first position.
        if (eventId !== undefined && !positions.has(eventId)) {
          positions.set(eventId, { partition: batch.partition, offset: Number(message.offset) });
        }
      }
    },
  });
  await vi.waitFor(() => {
    if (seen < total) {
      throw new Error(`read ${seen} of ${total} records`);
    }
  }, { timeout: 120_000, interval: 200 });
  await consumer.disconnect();
  return positions;
}

/**
 * Folder where each ingest process writes a V8 CPU profile when it exits, from
 * RELIABILITY_CPU_PROFILE_DIR. A process killed with SIGKILL writes none.
 */
const CPU_PROFILE_DIR = process.env.RELIABILITY_CPU_PROFILE_DIR;

/** An ingest role in its own process, started with `nexttap serve --role ingest`. */
export class IngestProcess {
  private output = '';
  private readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** How the process ended, once it has. */
  exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(environment: Record<string, string>) {
    const profile = CPU_PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`];
    this.child = spawn(process.execPath, [...profile, 'packages/cli/bin/nexttap.js', 'serve', '--role', 'ingest'], {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, PORT: '0', SEED_DATASET: 'none', LOG_LEVEL: 'info', ...environment },
    });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Log lines so far, parsed; lines that are not JSON are skipped. */
  logLines(): Array<Record<string, unknown>> {
    return this.output.split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  countMessages(message: string): number {
    return this.logLines().filter((line) => line.msg === message).length;
  }

  /** Waits until the process has logged `message` at least `count` times. */
  async waitForMessage(message: string, count = 1, timeoutMs = 90_000): Promise<void> {
    await vi.waitFor(
      () => {
        if (this.countMessages(message) < count) {
          throw new Error(`ingest process ${this.pid} logged "${message}" ${this.countMessages(message)} of ${count} times; output tail:\n${this.output.slice(-2_000)}`);
        }
      },
      { timeout: timeoutMs, interval: 100 },
    );
  }

  /** Returns the URL from the `server ready` line. */
  url(): string | undefined {
    return this.logLines().find((line) => line.msg === 'server ready')?.url as string | undefined;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  tail(): string {
    return this.output.slice(-3_000);
  }

  /** Describes the process in one line for a failure message: its pid, exit status and last log messages. */
  describe(): string {
    // An error line's message distinguishes, for instance, a refused connection from a timeout.
    const messages = this.logLines()
      .slice(-12)
      .map((line) => {
        const err = line.err as { message?: unknown } | undefined;
        return typeof err?.message === 'string' ? `${String(line.msg)}: ${err.message}` : line.msg;
      });
    const status = this.exitStatus === undefined ? 'running' : `exited with ${JSON.stringify(this.exitStatus)}`;
    return `ingest process ${this.pid} ${status}; last messages: ${JSON.stringify(messages)}`;
  }
}

/**
 * Consumer group timings of the fault runs, in ms. The librdkafka mock coordinator
 * (rdkafka_mock_cgrp.c) evicts a member that died without leaving only after the session timeout.
 * Before it assigns partitions, it waits the session timeout less 1 s for more members to join.
 * So a member that replaces a killed one waits one or two session timeouts, and the kafkajs
 * default of 30 s made each membership change take 30 to 60 s. A batch that outlasts the session
 * timeout costs a rebalance and a redelivery, not an event. The mock ignores the rebalance
 * timeout, so it keeps the kafkajs default. A process gives up starting when its first join takes
 * longer than the rebalance plus the session timeout, and under load a join can take several
 * rounds.
 */
export const CONSUMER_TIMINGS = { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 1_000, rebalanceTimeoutMs: 60_000 } as const;

/** Environment of an ingest process on the run's cluster, Redis and group. */
export function ingestEnvironment(kafka: MockKafka, redisUrl: string, keyPrefix: string, topics: RunTopics, groupId: string): Record<string, string> {
  return {
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_SESSION_TIMEOUT_MS: String(CONSUMER_TIMINGS.sessionTimeoutMs),
    KAFKA_HEARTBEAT_INTERVAL_MS: String(CONSUMER_TIMINGS.heartbeatIntervalMs),
    KAFKA_REBALANCE_TIMEOUT_MS: String(CONSUMER_TIMINGS.rebalanceTimeoutMs),
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: keyPrefix,
    TOPIC_PREFIX: topics.prefix,
    INGEST_CONSUMER_GROUP: groupId,
  };
}

/**
 * Starts awaiting `work` now and returns a function that resolves or rejects with it later. A
 * rejection before that call is not reported as unhandled, and the call still rejects with it.
 */
export function settleLater<T>(work: Promise<T>): () => Promise<T> {
  const settled = work.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return async () => {
    const outcome = await settled;
    if (!outcome.ok) {
      throw outcome.error;
    }
    return outcome.value;
  };
}

/** Writes a run's figures as one JSON line on stdout, where docs/reliability.md takes them from. */
export function reportFigures(figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ figures })}\n`);
}

/**
 * Fails when the mock broker dropped records of `topic`. The librdkafka 2.0.2 mock keeps at most
 * 5 MiB or 100,000 records per partition and deletes the oldest beyond that, consumed or not, so
 * a run must spread its records over enough partitions.
 */
export async function expectNoRecordDropped(admin: Admin, topic: string): Promise<void> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const dropped = offsets.filter((partition) => partition.low !== '0');
  expect(dropped, `the mock broker deleted the start of these partitions of ${topic}`).toEqual([]);
}
