import { parseServerConfig, startServer } from '@nexttap/cli';
import { readMovieLensEvents } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { startMockKafka, startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { redisCpuSeconds } from './redis-cpu';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
const MODEL_DIR = new URL('../models/movielens-mlp/1', import.meta.url).pathname;
const TOPIC_PREFIX = 'bench';

export interface IngestResult {
  scenario: string;
  events: number;
  eventsPerSecond: number;
  freshnessP50Ms: number | undefined;
  freshnessP99Ms: number | undefined;
  /** CPU time of redis-server per applied event, in µs (`INFO cpu`). */
  redisCpuMicrosPerEvent: number;
  /**
   * CPU time of this Node process per applied event, in µs: the ingest server, and in the paced
   * scenario also the producer that sends the events, because both run in this process.
   */
  nodeCpuMicrosPerEvent: number;
  /**
   * Mean time of each stage of a batch in the paced scenario, in ms, from
   * `nexttap_ingest_stage_duration_seconds`, and the mean records per batch.
   */
  stages?: { meanMsByStage: Record<string, number>; meanBatchRecords: number };
}

/**
 * Interval between the paced scenario's produce calls, in ms. kafkajs 2.2.4 gives every record of
 * one produce request the same CreateTime, so the events of one call start their freshness clock
 * together, and the last of them waits until all the others are applied. At 10,000 events/s, calls
 * every 100 ms made bursts of 1,000 events, about 55 ms of Redis time. Every 10 ms is closer to
 * many clients sending on their own, at some extra producer CPU in this process.
 */
const PACED_TICK_MS = 10;

/**
 * Runs one ingest process on the librdkafka mock cluster and a private Redis. Backlog: the topic
 * already holds the events when ingest starts, which gives its throughput. Paced: events are
 * produced at a fixed rate while ingest runs, which gives the append-to-readable freshness from
 * the ingest histogram.
 */
export async function benchIngest(eventCount: number, pacedRatePerSecond: number, pacedSeconds: number, pacedTickMs = PACED_TICK_MS): Promise<IngestResult[]> {
  const [kafka, redis] = await Promise.all([
    startMockKafka({ topics: ['interactions', 'catalog', 'interactions.dlq'].map((name) => ({ name: `${TOPIC_PREFIX}.${name}`, partitions: 3 })) }),
    startRedisServer(),
  ]);
  const client = new Kafka({ clientId: 'bench-producer', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
  const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const history = await readMovieLensEvents(MOVIELENS_DIR);
    const send = async (events: typeof history) => {
      const startMs = Date.now();
      const messages = events.map((event, index) => ({ key: event.sessionId, value: JSON.stringify({ ...event, eventId: `${event.eventId}-${startMs}`, ts: startMs + index }) }));
      for (let start = 0; start < messages.length; start += 500) {
        await producer.send({ topic: `${TOPIC_PREFIX}.interactions`, messages: messages.slice(start, start + 500) });
      }
    };
    await send(history.slice(0, eventCount));

    const config = parseServerConfig({
      PORT: '0',
      KAFKA_BROKERS: kafka.brokers.join(','),
      REDIS_URL: redis.url,
      TOPIC_PREFIX,
      // The mock cluster replies to an empty fetch only at the end of the wait, even when records
      // arrive meanwhile, where a Kafka broker replies at once. A 5 ms wait comes close to a broker.
      // A fetch also returns one produce call's records per partition, so ingest needs a fetch per
      // partition and tick to keep up, which it makes while its batches are applied.
      KAFKA_FETCH_MAX_WAIT_MS: '5',
      MODEL_DIR,
      LOG_LEVEL: 'silent',
    });
    const startedMs = Date.now();
    const server = await startServer('ingest', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
    const redisClient = new Redis(redis.url);
    try {
      const redisCpuAtStart = await redisCpuSeconds(redisClient);
      const nodeCpuAtStart = process.cpuUsage();
      await waitForApplied(server.url, eventCount);
      const backlogSeconds = (Date.now() - startedMs) / 1000;
      const redisCpuAfterBacklog = await redisCpuSeconds(redisClient);
      const nodeCpuBacklog = process.cpuUsage(nodeCpuAtStart);
      const backlog: IngestResult = {
        scenario: 'backlog (group join included)',
        events: eventCount,
        eventsPerSecond: Math.round(eventCount / backlogSeconds),
        freshnessP50Ms: undefined,
        freshnessP99Ms: undefined,
        redisCpuMicrosPerEvent: Math.round(((redisCpuAfterBacklog - redisCpuAtStart) * 1e6) / eventCount),
        nodeCpuMicrosPerEvent: Math.round((nodeCpuBacklog.user + nodeCpuBacklog.system) / eventCount),
      };

      const before = await histogram(server.url);
      const stagesBefore = await stageTotals(server.url);
      const nodeCpuBeforePaced = process.cpuUsage();
      const paced = history.slice(0, pacedRatePerSecond * pacedSeconds);
      const perTick = Math.max(1, Math.round((pacedRatePerSecond * pacedTickMs) / 1000));
      const pacedStartMs = Date.now();
      for (let start = 0; start < paced.length; start += perTick) {
        await send(paced.slice(start, start + perTick));
        const dueMs = pacedStartMs + ((start + perTick) / pacedRatePerSecond) * 1000;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueMs - Date.now())));
      }
      await waitForApplied(server.url, eventCount + paced.length);
      const nodeCpuPaced = process.cpuUsage(nodeCpuBeforePaced);
      const after = await histogram(server.url);
      const stagesAfter = await stageTotals(server.url);
      const delta = after.map(([bound, count], index) => [bound, count - (before[index]?.[1] ?? 0)] as [number, number]);
      return [
        backlog,
        {
          scenario: `paced at ${pacedRatePerSecond} events/s, sent every ${pacedTickMs} ms`,
          events: paced.length,
          eventsPerSecond: Math.round(paced.length / ((Date.now() - pacedStartMs) / 1000)),
          freshnessP50Ms: quantileMs(delta, 0.5),
          freshnessP99Ms: quantileMs(delta, 0.99),
          redisCpuMicrosPerEvent: Math.round((((await redisCpuSeconds(redisClient)) - redisCpuAfterBacklog) * 1e6) / paced.length),
          nodeCpuMicrosPerEvent: Math.round((nodeCpuPaced.user + nodeCpuPaced.system) / paced.length),
          stages: stageMeans(stagesBefore, stagesAfter),
        },
      ];
    } finally {
      redisClient.disconnect();
      await server.close();
    }
  } finally {
    await producer.disconnect();
    await Promise.all([kafka.stop(), redis.stop()]);
  }
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

async function waitForApplied(url: string, count: number): Promise<void> {
  for (;;) {
    const match = /nexttap_ingest_records_total\{topic="interactions",outcome="applied"\} (\d+)/.exec(await metricsText(url));
    if (Number(match?.[1] ?? 0) >= count) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Reads the cumulative buckets of the append-to-readable histogram as [upper bound s, count]. */
async function histogram(url: string): Promise<Array<[number, number]>> {
  const text = await metricsText(url);
  const pattern = /nexttap_feature_freshness_since_append_seconds_bucket\{le="([^"]+)"\} (\d+)/g;
  return [...text.matchAll(pattern)].map((match) => [match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]), Number(match[2])]);
}

/** Reads the sum and count of each series of the stage and batch size histograms, by series name and stage. */
async function stageTotals(url: string): Promise<Map<string, { sum: number; count: number }>> {
  const text = await metricsText(url);
  const totals = new Map<string, { sum: number; count: number }>();
  const pattern = /^(nexttap_ingest_stage_duration_seconds|nexttap_ingest_batch_records)_(sum|count)(?:\{stage="([^"]+)"\})? (\S+)$/gm;
  for (const [, name, field, stage, value] of text.matchAll(pattern)) {
    const key = stage === undefined ? name as string : `${name}:${stage}`;
    const entry = totals.get(key) ?? { sum: 0, count: 0 };
    entry[field as 'sum' | 'count'] = Number(value);
    totals.set(key, entry);
  }
  return totals;
}

function stageMeans(before: Map<string, { sum: number; count: number }>, after: Map<string, { sum: number; count: number }>): IngestResult['stages'] {
  const mean = (key: string): number => {
    const sum = (after.get(key)?.sum ?? 0) - (before.get(key)?.sum ?? 0);
    const count = (after.get(key)?.count ?? 0) - (before.get(key)?.count ?? 0);
    return count === 0 ? Number.NaN : sum / count;
  };
  const meanMsByStage: Record<string, number> = {};
  for (const key of after.keys()) {
    if (key.startsWith('nexttap_ingest_stage_duration_seconds:')) {
      meanMsByStage[key.slice(key.indexOf(':') + 1)] = Math.round(mean(key) * 1000 * 100) / 100;
    }
  }
  return { meanMsByStage, meanBatchRecords: Math.round(mean('nexttap_ingest_batch_records') * 10) / 10 };
}

/** Estimates a quantile from cumulative buckets by linear interpolation inside the bucket. */
function quantileMs(buckets: ReadonlyArray<[number, number]>, quantile: number): number | undefined {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) {
    return undefined;
  }
  const rank = quantile * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (!Number.isFinite(bound)) {
        return previousBound * 1000;
      }
      const share = count === previousCount ? 1 : (rank - previousCount) / (count - previousCount);
      return Math.round((previousBound + share * (bound - previousBound)) * 1000 * 10) / 10;
    }
    previousBound = bound;
    previousCount = count;
  }
  return undefined;
}
