/**
 * Splits the Node CPU of ingest's backlog run by component. It produces `EVENTS` MovieLens events
 * to the librdkafka mock cluster, starts an ingest server on them and a private Redis, and
 * profiles the process from the first applied batch to the last, as `bench/ingest-freshness.ts`
 * measures its backlog rate. It prints events/s, the mean records per batch and events per store
 * apply call, Node and redis-server CPU per event, and the profile's samples per event by
 * component: kafkajs, ioredis, the write path (features and store), decoding (events), the bus,
 * ingest, metrics, garbage collection and idle time.
 *
 * A sample counts for the innermost frame whose file belongs to a component, so the Node
 * internals under a call (socket writes, Buffer methods) count for its caller. Samples without
 * such a frame, such as Node's own stream and timer code, count as "other". The profiler and this
 * script's metric polls add CPU: the rendering of the metrics counts under "metrics", the rest
 * under "bench" (3.0 µs per event in one run on the 2-core host, an estimate of the overhead).
 *
 * Run: `EVENTS=40000 PROFILE=/tmp/ingest.cpuprofile npx tsx bench/ingest-cpu-profile.ts`. `EVENTS`
 * defaults to 40,000; `PROFILE` also writes the profile (open it in Chrome DevTools). Any other
 * server setting, such as `INGEST_MAX_APPLY_CALLS`, is read from the environment.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseServerConfig, startServer } from '@nexttap/cli';
import { readMovieLensEvents } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { startMockKafka, startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { appliedCount } from './ingest-freshness';
import { redisCpuSeconds } from './redis-cpu';

const EVENTS = Number(process.env.EVENTS ?? 40_000);
const PROFILE = process.env.PROFILE;
const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
const MODEL_DIR = new URL('../models/movielens-mlp/1', import.meta.url).pathname;
const TOPIC_PREFIX = 'bench';
/** Sampling interval of the CPU profile, in µs. Node's default of 1,000 µs gives too few samples for a 2 s run. */
const PROFILE_INTERVAL_US = 200;
/** Interval between polls of the applied count, in ms. Each poll renders every metric of the server. */
const POLL_INTERVAL_MS = 100;

/** Components by the file of a frame, checked in order. */
const COMPONENTS: ReadonlyArray<[name: string, file: RegExp]> = [
  ['kafkajs', /node_modules\/kafkajs\//],
  ['ioredis', /node_modules\/(ioredis|redis-parser|denque|standard-as-callback)\//],
  ['write path (features, store)', /packages\/(features|store)\/src\//],
  ['decoding (events)', /packages\/events\/src\//],
  ['bus', /packages\/bus\/src\//],
  ['ingest', /services\/ingest\/src\//],
  ['metrics', /node_modules\/prom-client\/|packages\/observability\/src\//],
  ['bench (profiler, metric polls, HTTP)', /node:inspector|node_modules\/(fastify|undici)\/|node:internal\/deps\/undici|node:_http|\/bench\//],
];
/** Samples of these V8 pseudo-functions count under their own name, whatever their parents. */
const PSEUDO_FUNCTIONS = new Set(['(idle)', '(garbage collector)', '(program)']);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Sums the sampled time of the profile by component, in µs. */
function timeByComponent(profile: CpuProfile): Map<string, number> {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) {
      parents.set(child, node.id);
    }
  }
  const componentOf = (id: number): string => {
    const leaf = nodes.get(id);
    if (leaf !== undefined && PSEUDO_FUNCTIONS.has(leaf.callFrame.functionName)) {
      return leaf.callFrame.functionName;
    }
    for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
      const url = nodes.get(current)?.callFrame.url ?? '';
      const component = COMPONENTS.find(([, file]) => file.test(url));
      if (component !== undefined) {
        return component[0];
      }
    }
    return 'other (Node internals, socket reads)';
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const component = componentOf(id);
    totals.set(component, (totals.get(component) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  return totals;
}

/** Produces the first `count` MovieLens events, each stamped with the current time, as the ingest benchmark does. */
async function produceBacklog(brokers: string[], count: number): Promise<void> {
  const producer = new Kafka({ clientId: 'bench-producer', brokers, logLevel: logLevel.NOTHING }).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const events = (await readMovieLensEvents(MOVIELENS_DIR)).slice(0, count);
    const nowMs = Date.now();
    const messages = events.map((event) => ({ key: event.sessionId, value: JSON.stringify({ ...event, eventId: `${event.eventId}-${nowMs}`, ts: nowMs }) }));
    for (let start = 0; start < messages.length; start += 500) {
      await producer.send({ topic: `${TOPIC_PREFIX}.interactions`, messages: messages.slice(start, start + 500) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Returns the sum and count of the batch size and apply size histograms, from the server's metrics. */
async function batchSizeTotals(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const totals = new Map<string, number>();
  for (const [, name, value] of text.matchAll(/^(nexttap_ingest_(?:batch_records|apply_events)_(?:sum|count)) (\S+)$/gm)) {
    totals.set(name as string, Number(value));
  }
  return totals;
}

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) {
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

const [kafka, redis] = await Promise.all([
  startMockKafka({ topics: ['interactions', 'catalog', 'interactions.dlq'].map((name) => ({ name: `${TOPIC_PREFIX}.${name}`, partitions: 3 })) }),
  startRedisServer(),
]);
const inspector = new Session();
try {
  await produceBacklog(kafka.brokers, EVENTS);
  const config = parseServerConfig({
    ...process.env,
    PORT: '0',
    KAFKA_BROKERS: kafka.brokers.join(','),
    REDIS_URL: redis.url,
    TOPIC_PREFIX,
    // The same fetch wait as bench/ingest-freshness.ts, which explains it.
    KAFKA_FETCH_MAX_WAIT_MS: process.env.KAFKA_FETCH_MAX_WAIT_MS ?? '5',
    MODEL_DIR,
    LOG_LEVEL: 'silent',
  });
  const server = await startServer('ingest', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
  const redisClient = new Redis(redis.url);
  try {
    await waitUntil(async () => (await appliedCount(server.url)) > 0);
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
    await inspector.post('Profiler.start');
    const firstApplied = await appliedCount(server.url);
    const sizesBefore = await batchSizeTotals(server.url);
    const redisCpuBefore = await redisCpuSeconds(redisClient);
    const nodeCpuBefore = process.cpuUsage();
    const startedMs = performance.now();
    await waitUntil(async () => (await appliedCount(server.url)) >= EVENTS);
    const elapsedMs = performance.now() - startedMs;
    const nodeCpu = process.cpuUsage(nodeCpuBefore);
    const redisCpuMicros = ((await redisCpuSeconds(redisClient)) - redisCpuBefore) * 1e6;
    const { profile } = await inspector.post('Profiler.stop');
    const sizesAfter = await batchSizeTotals(server.url);
    const meanOf = (histogram: string) => {
      const delta = (field: string) => (sizesAfter.get(`${histogram}_${field}`) ?? 0) - (sizesBefore.get(`${histogram}_${field}`) ?? 0);
      return (delta('sum') / delta('count')).toFixed(1);
    };
    if (PROFILE !== undefined) {
      writeFileSync(PROFILE, JSON.stringify(profile));
    }
    const events = EVENTS - firstApplied;
    const perEvent = (micros: number) => (micros / events).toFixed(2);
    process.stdout.write(`${events} events in ${(elapsedMs / 1000).toFixed(2)} s: ${Math.round(events / (elapsedMs / 1000))} events/s\n`);
    process.stdout.write(`mean records per batch ${meanOf('nexttap_ingest_batch_records')}, events per store apply call ${meanOf('nexttap_ingest_apply_events')}\n`);
    process.stdout.write(`CPU µs per event: Node ${perEvent(nodeCpu.user + nodeCpu.system)}, redis-server ${perEvent(redisCpuMicros)}\n`);
    process.stdout.write('profile samples per event, µs:\n');
    const byComponent = [...timeByComponent(profile as CpuProfile)].sort((a, b) => b[1] - a[1]);
    for (const [component, micros] of byComponent) {
      process.stdout.write(`  ${perEvent(micros).padStart(7)}  ${component}\n`);
    }
  } finally {
    redisClient.disconnect();
    await server.close();
  }
} finally {
  inspector.disconnect();
  await Promise.all([kafka.stop(), redis.stop()]);
}
