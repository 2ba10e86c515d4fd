import { applyCatalogItems } from '@nexttap/features';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { MemoryFeatureStore, RedisFeatureStore, type FeatureStore } from '@nexttap/store';
import { startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { redisCpuSeconds } from './redis-cpu';
import { applyStreams, splitBySession } from './event-streams';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;

export interface WriteResult {
  store: string;
  timeline: string;
  batchesInFlight: number;
  events: number;
  eventsPerSecond: number;
  /** CPU time of this Node process per event, in µs: planning, merging, encoding and the client. */
  nodeCpuMicrosPerEvent: number;
  /** CPU time of redis-server per event, in µs (`INFO cpu`); undefined for the memory store. */
  redisCpuMicrosPerEvent: number | undefined;
}

/** Event rate of the live timeline, per second of event time: the rate one ingest process should sustain. */
const LIVE_RATE_PER_SECOND = 10_000;

/**
 * Applies MovieLens events in batches of 500, as ingest does. With several batches in flight the
 * events are split by session into that many streams, as Kafka partitions split them, and each
 * stream applies its batches in order.
 */
async function measure(
  store: FeatureStore,
  name: string,
  eventCount: number,
  timeline: 'live' | 'historical',
  batchesInFlight: number,
  redis?: Redis,
): Promise<WriteResult> {
  const catalog = await readMovieLensCatalog(MOVIELENS_DIR);
  await applyCatalogItems(store, catalog);
  const history = (await readMovieLensEvents(MOVIELENS_DIR)).slice(0, eventCount);
  // The live timeline keeps the order of the ratings but spaces them as a live stream would be;
  // the historical one keeps their 1996-2018 times, which renews decay landmarks far more often.
  const startMs = Date.now();
  const events =
    timeline === 'historical'
      ? history
      : history.map((event, index) => ({ ...event, ts: startMs + Math.floor((index * 1000) / LIVE_RATE_PER_SECOND) }));
  const streams = splitBySession(events, batchesInFlight);
  const redisCpuBefore = redis === undefined ? 0 : await redisCpuSeconds(redis);
  const nodeCpuBefore = process.cpuUsage();
  const startedNs = process.hrtime.bigint();
  await applyStreams(store, streams);
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  const nodeCpu = process.cpuUsage(nodeCpuBefore);
  const redisCpu = redis === undefined ? undefined : (await redisCpuSeconds(redis)) - redisCpuBefore;
  return {
    store: name,
    timeline,
    batchesInFlight,
    events: events.length,
    eventsPerSecond: Math.round(events.length / seconds),
    nodeCpuMicrosPerEvent: Math.round((nodeCpu.user + nodeCpu.system) / events.length),
    redisCpuMicrosPerEvent: redisCpu === undefined ? undefined : Math.round((redisCpu * 1e6) / events.length),
  };
}

export async function benchWriteThroughput(eventCount: number): Promise<WriteResult[]> {
  const results: WriteResult[] = [];
  for (const timeline of ['live', 'historical'] as const) {
    results.push(await measure(new MemoryFeatureStore({ sweepIntervalMs: 0 }), 'memory', eventCount, timeline, 1));
    for (const batchesInFlight of [1, 3]) {
      const server = await startRedisServer();
      const client = new Redis(server.url);
      try {
        results.push(await measure(new RedisFeatureStore(client), 'redis (private redis-server, loopback)', eventCount, timeline, batchesInFlight, client));
      } finally {
        client.disconnect();
        await server.stop();
      }
    }
  }
  return results;
}
