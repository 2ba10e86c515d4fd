import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { MemoryFeatureStore, RedisFeatureStore, type FeatureStore } from '@nexttap/store';
import { startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
const BATCH = 500;

export interface WriteResult {
  store: string;
  timeline: string;
  events: number;
  eventsPerSecond: number;
}

/** Event rate of the live timeline, per second of event time: the rate one ingest process should sustain. */
const LIVE_RATE_PER_SECOND = 10_000;

/** Applies MovieLens events in batches of 500, one batch in flight, as ingest does. */
async function measure(store: FeatureStore, name: string, eventCount: number, timeline: 'live' | 'historical'): Promise<WriteResult> {
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
  const startedNs = process.hrtime.bigint();
  for (let start = 0; start < events.length; start += BATCH) {
    const batch = events.slice(start, start + BATCH);
    await applyInteractions(store, batch);
  }
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return { store: name, timeline, events: events.length, eventsPerSecond: Math.round(events.length / seconds) };
}

export async function benchWriteThroughput(eventCount: number): Promise<WriteResult[]> {
  const results: WriteResult[] = [];
  for (const timeline of ['live', 'historical'] as const) {
    results.push(await measure(new MemoryFeatureStore({ sweepIntervalMs: 0 }), 'memory', eventCount, timeline));
    const server = await startRedisServer();
    const client = new Redis(server.url);
    try {
      results.push(await measure(new RedisFeatureStore(client), 'redis (private redis-server, loopback)', eventCount, timeline));
    } finally {
      client.disconnect();
      await server.stop();
    }
  }
  return results;
}
