import { parseServerConfig, startServer } from '@nexttap/cli';
import { readMovieLensEvents } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { startMockKafka, startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { redisCpuSeconds } from './redis-cpu';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
const MODEL_DIR = new URL('../models/movielens-mlp/1', import.meta.url).pathname;
const TOPIC_PREFIX = 'bench';

export interface IngestResult {
  scenario: string;
  events: number;
  /**
   * Backlog: the sustained rate, events applied from the first applied batch to the last one over
   * that time, so the group join and the first fetch are left out. Paced: events over the time from
   * the first produce call to the last applied event.
   */
  eventsPerSecond: number;
  /** Backlog only: seconds from the start of the ingest server to its first applied batch, the group join included. */
  startSeconds?: number;
  freshnessP50Ms: number | undefined;
  freshnessP99Ms: number | undefined;
  /** Paced only: p50 and p99 from the event's `ts`, stamped just before its produce call, to readable, in ms. */
  sinceEventP50Ms?: number | undefined;
  sinceEventP99Ms?: number | undefined;
  /** CPU time of redis-server per applied event, in µs (`INFO cpu`), over the same span as `eventsPerSecond`. */
  redisCpuMicrosPerEvent: number;
  /**
   * CPU time of this Node process per applied event, in µs, over the same span as
   * `eventsPerSecond`. Backlog: the ingest server alone, kafkajs fetching and decoding included.
   * Paced: also the producer that sends the events, because both run in this process.
   */
  nodeCpuMicrosPerEvent: number;
  /**
   * Mean and p99 time of each stage of a batch in the paced scenario, in ms, from
   * `nexttap_ingest_stage_duration_seconds`, and the mean records per batch. `meanApplyEvents` is
   * the mean events per store apply call, which may merge the batches of several partitions. It is
   * NaN for code that applies each batch on its own.
   */
  stages?: { meanMsByStage: Record<string, number>; p99MsByStage: Record<string, number | undefined>; meanBatchRecords: number; meanApplyEvents: number };
  /** Paced only: what else held the event loop while the events were produced and applied. */
  process?: ProcessPauses;
}

/** Event-loop delay and garbage-collection pauses of this process, in ms. */
export interface ProcessPauses {
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  gcPauses: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** Produce calls of the paced scenario, and their time from stamping `ts` to the broker's acknowledgement. */
  produceCalls: number;
  produceP99Ms: number;
  produceMaxMs: number;
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
 * already contains the events when ingest starts, which gives its sustained throughput once it has
 * joined the group. Paced: events are produced at a fixed rate while ingest runs, which gives the
 * append-to-readable freshness from the ingest histogram.
 */
export async function benchIngest(
  eventCount: number,
  pacedRatePerSecond: number,
  pacedSeconds: number,
  pacedTickMs = PACED_TICK_MS,
  /** Settings of the ingest server on top of the bench's own, by environment variable. */
  environment: Record<string, string> = {},
): Promise<IngestResult[]> {
  const [kafka, redis] = await Promise.all([
    startMockKafka({ topics: ['interactions', 'catalog', 'interactions.dlq'].map((name) => ({ name: `${TOPIC_PREFIX}.${name}`, partitions: 3 })) }),
    startRedisServer(),
  ]);
  const client = new Kafka({ clientId: 'bench-producer', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
  const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const produceMs: number[] = [];
  try {
    const history = await readMovieLensEvents(MOVIELENS_DIR);
    // Every event of one call gets the same `ts`, stamped just before the call, as kafkajs 2.2.4
    // gives them the same CreateTime. The eventId suffix keeps events sent again distinct.
    const send = async (events: typeof history) => {
      const startMs = Date.now();
      const messages = events.map((event) => ({ key: event.sessionId, value: JSON.stringify({ ...event, eventId: `${event.eventId}-${startMs}`, ts: startMs }) }));
      for (let start = 0; start < messages.length; start += 500) {
        await producer.send({ topic: `${TOPIC_PREFIX}.interactions`, messages: messages.slice(start, start + 500) });
      }
      produceMs.push(Date.now() - startMs);
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
      ...environment,
    });
    const startedMs = Date.now();
    const server = await startServer('ingest', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
    const redisClient = new Redis(redis.url);
    try {
      const backlog = await measureBacklog(server.url, redisClient, eventCount, startedMs);
      const redisCpuBeforePaced = await redisCpuSeconds(redisClient);
      const before = await histogram(server.url, 'append');
      const sinceEventBefore = await histogram(server.url, 'event');
      const stagesBefore = await stageTotals(server.url);
      const pauses = watchPauses();
      const nodeCpuBeforePaced = process.cpuUsage();
      const paced = history.slice(0, pacedRatePerSecond * pacedSeconds);
      const perTick = Math.max(1, Math.round((pacedRatePerSecond * pacedTickMs) / 1000));
      produceMs.length = 0;
      const pacedStartMs = Date.now();
      for (let start = 0; start < paced.length; start += perTick) {
        await send(paced.slice(start, start + perTick));
        const dueMs = pacedStartMs + ((start + perTick) / pacedRatePerSecond) * 1000;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueMs - Date.now())));
      }
      await waitForApplied(server.url, eventCount + paced.length);
      const nodeCpuPaced = process.cpuUsage(nodeCpuBeforePaced);
      const pacedEndMs = Date.now();
      const processPauses = { ...pauses.stop(), ...produceSummary(produceMs) };
      const delta = bucketDelta(before, await histogram(server.url, 'append'));
      const sinceEventDelta = bucketDelta(sinceEventBefore, await histogram(server.url, 'event'));
      const stagesAfter = await stageTotals(server.url);
      return [
        backlog,
        {
          scenario: `paced at ${pacedRatePerSecond} events/s, sent every ${pacedTickMs} ms`,
          events: paced.length,
          eventsPerSecond: Math.round(paced.length / ((pacedEndMs - pacedStartMs) / 1000)),
          freshnessP50Ms: quantileMs(delta, 0.5),
          freshnessP99Ms: quantileMs(delta, 0.99),
          sinceEventP50Ms: quantileMs(sinceEventDelta, 0.5),
          sinceEventP99Ms: quantileMs(sinceEventDelta, 0.99),
          redisCpuMicrosPerEvent: Math.round((((await redisCpuSeconds(redisClient)) - redisCpuBeforePaced) * 1e6) / paced.length),
          nodeCpuMicrosPerEvent: Math.round((nodeCpuPaced.user + nodeCpuPaced.system) / paced.length),
          stages: stageSummary(stagesBefore, stagesAfter),
          process: processPauses,
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

/**
 * Waits until ingest applied the `eventCount` backlog events. The rate and the CPU per event run
 * from the first poll that saw an applied event to the last one, so they leave out the group join
 * and the first fetch. It polls every 100 ms, not more often, because each poll renders every
 * metric of the server in this process. Over a span of 5 s or more that bounds the error at 2%.
 */
async function measureBacklog(url: string, redisClient: Redis, eventCount: number, startedMs: number): Promise<IngestResult> {
  let first: { atMs: number; applied: number; nodeCpu: NodeJS.CpuUsage; redisCpuSeconds: number } | undefined;
  for (;;) {
    const applied = await appliedCount(url);
    if (first === undefined && applied > 0) {
      first = { atMs: Date.now(), applied, nodeCpu: process.cpuUsage(), redisCpuSeconds: await redisCpuSeconds(redisClient) };
    }
    if (first !== undefined && applied >= eventCount) {
      const nodeCpu = process.cpuUsage(first.nodeCpu);
      const events = applied - first.applied;
      return {
        scenario: 'backlog, sustained after the first applied batch',
        events,
        eventsPerSecond: Math.round(events / ((Date.now() - first.atMs) / 1000)),
        startSeconds: Math.round((first.atMs - startedMs) / 100) / 10,
        freshnessP50Ms: undefined,
        freshnessP99Ms: undefined,
        redisCpuMicrosPerEvent: Math.round((((await redisCpuSeconds(redisClient)) - first.redisCpuSeconds) * 1e6) / events),
        nodeCpuMicrosPerEvent: Math.round((nodeCpu.user + nodeCpu.system) / events),
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts recording the event-loop delay and the garbage-collection pauses of this process. */
function watchPauses(): { stop(): Omit<ProcessPauses, 'produceCalls' | 'produceP99Ms' | 'produceMaxMs'> } {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const gcMs: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs.push(entry.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    stop() {
      delay.disable();
      observer.disconnect();
      return {
        eventLoopDelayP50Ms: round(delay.percentile(50) / 1e6),
        eventLoopDelayP99Ms: round(delay.percentile(99) / 1e6),
        eventLoopDelayMaxMs: round(delay.max / 1e6),
        gcPauses: gcMs.length,
        gcTotalMs: round(gcMs.reduce((sum, value) => sum + value, 0)),
        gcMaxMs: round(Math.max(0, ...gcMs)),
      };
    },
  };
}

function produceSummary(produceMs: readonly number[]): Pick<ProcessPauses, 'produceCalls' | 'produceP99Ms' | 'produceMaxMs'> {
  const sorted = [...produceMs].sort((a, b) => a - b);
  return {
    produceCalls: sorted.length,
    produceP99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
    produceMaxMs: sorted.at(-1) ?? 0,
  };
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** Returns the interactions that ingest counted as applied, from its metrics. */
export async function appliedCount(url: string): Promise<number> {
  const match = /nexttap_ingest_records_total\{topic="interactions",outcome="applied"\} (\d+)/.exec(await metricsText(url));
  return Number(match?.[1] ?? 0);
}

async function waitForApplied(url: string, count: number): Promise<void> {
  while ((await appliedCount(url)) < count) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Reads the cumulative buckets of a freshness histogram, since the append or since the event's `ts`, as [upper bound s, count]. */
async function histogram(url: string, since: 'append' | 'event'): Promise<Array<[number, number]>> {
  return buckets(await metricsText(url), `nexttap_feature_freshness_since_${since}_seconds_bucket`, '');
}

/** Reads the cumulative buckets of the series `name` whose labels other than `le` are `labels` (`stage="wait"` for example). */
function buckets(text: string, name: string, labels: string): Array<[number, number]> {
  const result: Array<[number, number]> = [];
  for (const [, labelText, count] of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+)$`, 'gm'))) {
    const parts = (labelText as string).split(',');
    const bound = parts.find((part) => part.startsWith('le='))?.slice(4, -1);
    const others = parts.filter((part) => !part.startsWith('le=')).join(',');
    if (bound !== undefined && others === labels) {
      result.push([bound === '+Inf' ? Number.POSITIVE_INFINITY : Number(bound), Number(count)]);
    }
  }
  return result;
}

function bucketDelta(before: ReadonlyArray<[number, number]>, after: ReadonlyArray<[number, number]>): Array<[number, number]> {
  return after.map(([bound, count], index) => [bound, count - (before[index]?.[1] ?? 0)]);
}

/** Reads the sum, count and buckets of each series of the stage, batch size and apply size histograms, by series name and stage. */
async function stageTotals(url: string): Promise<Map<string, { sum: number; count: number; buckets: Array<[number, number]> }>> {
  const text = await metricsText(url);
  const totals = new Map<string, { sum: number; count: number; buckets: Array<[number, number]> }>();
  const pattern = /^(nexttap_ingest_stage_duration_seconds|nexttap_ingest_batch_records|nexttap_ingest_apply_events)_(sum|count)(?:\{stage="([^"]+)"\})? (\S+)$/gm;
  for (const [, name, field, stage, value] of text.matchAll(pattern)) {
    const key = stage === undefined ? name as string : `${name}:${stage}`;
    const labels = stage === undefined ? '' : `stage="${stage}"`;
    const entry = totals.get(key) ?? { sum: 0, count: 0, buckets: buckets(text, `${name}_bucket`, labels) };
    entry[field as 'sum' | 'count'] = Number(value);
    totals.set(key, entry);
  }
  return totals;
}

function stageSummary(
  before: Map<string, { sum: number; count: number; buckets: Array<[number, number]> }>,
  after: Map<string, { sum: number; count: number; buckets: Array<[number, number]> }>,
): IngestResult['stages'] {
  const mean = (key: string): number => {
    const sum = (after.get(key)?.sum ?? 0) - (before.get(key)?.sum ?? 0);
    const count = (after.get(key)?.count ?? 0) - (before.get(key)?.count ?? 0);
    return count === 0 ? Number.NaN : sum / count;
  };
  const meanMsByStage: Record<string, number> = {};
  const p99MsByStage: Record<string, number | undefined> = {};
  for (const [key, totals] of after) {
    if (key.startsWith('nexttap_ingest_stage_duration_seconds:')) {
      const stage = key.slice(key.indexOf(':') + 1);
      meanMsByStage[stage] = Math.round(mean(key) * 1000 * 100) / 100;
      p99MsByStage[stage] = quantileMs(bucketDelta(before.get(key)?.buckets ?? [], totals.buckets), 0.99);
    }
  }
  return {
    meanMsByStage,
    p99MsByStage,
    meanBatchRecords: Math.round(mean('nexttap_ingest_batch_records') * 10) / 10,
    meanApplyEvents: Math.round(mean('nexttap_ingest_apply_events') * 10) / 10,
  };
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
