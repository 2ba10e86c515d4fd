import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { MemoryFeatureStore, RedisFeatureStore, type FeatureStore } from '@nexttap/store';
import { startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
const BATCH = 500;

export interface WriteResult {
  store: string;
  events: number;
  eventsPerSecond: number;
}

/** Applies MovieLens events in batches of 500, one batch in flight, as ingest does. */
async function measure(store: FeatureStore, name: string, eventCount: number): Promise<WriteResult> {
  const catalog = await readMovieLensCatalog(MOVIELENS_DIR);
  await applyCatalogItems(store, catalog);
  const events = (await readMovieLensEvents(MOVIELENS_DIR)).slice(0, eventCount);
  const startedNs = process.hrtime.bigint();
  for (let start = 0; start < events.length; start += BATCH) {
    const batch = events.slice(start, start + BATCH);
    await applyInteractions(store, batch);
  }
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return { store: name, events: events.length, eventsPerSecond: Math.round(events.length / seconds) };
}

export async function benchWriteThroughput(eventCount: number): Promise<WriteResult[]> {
  const memory = await measure(new MemoryFeatureStore({ sweepIntervalMs: 0 }), 'memory', eventCount);
  const server = await startRedisServer();
  const client = new Redis(server.url);
  try {
    const redis = await measure(new RedisFeatureStore(client, { keyPrefix: 'bench:' }), 'redis (private redis-server, loopback)', eventCount);
    return [memory, redis];
  } finally {
    client.disconnect();
    await server.stop();
  }
}
