import { applyCatalogItems, applyInteractions, keys } from '@nexttap/features';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { RedisFeatureStore } from '@nexttap/store';
import { startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;

export interface MemoryResult {
  family: string;
  entities: number;
  meanBytes: number;
}

/**
 * Replays all MovieLens ratings into a private Redis and reports `MEMORY USAGE` per session, user
 * and item, summed over each entity's keys, and the whole pools.
 */
export async function benchMemoryUsage(): Promise<MemoryResult[]> {
  const server = await startRedisServer();
  const client = new Redis(server.url);
  try {
    const store = new RedisFeatureStore(client);
    const catalog = await readMovieLensCatalog(MOVIELENS_DIR);
    await applyCatalogItems(store, catalog);
    const events = await readMovieLensEvents(MOVIELENS_DIR, { shiftToMs: Date.now() });
    for (let start = 0; start < events.length; start += 500) {
      await applyInteractions(store, events.slice(start, start + 500));
    }
    const sessions = [...new Set(events.map((event) => event.sessionId))];
    const users = [...new Set(events.map((event) => event.userId as string))];
    const items = catalog.map((item) => item.itemId);
    const sessionKeys = (id: string) => [keys.sessionRecent(id), keys.sessionAffinity(id), keys.sessionInteracted(id), keys.sessionSeen(id), keys.sessionMeta(id)];
    const userKeys = (id: string) => [keys.userAffinity(id), keys.userInteracted(id)];
    const itemKeys = (id: string) => [keys.itemSnapshot(id), keys.itemCatalog(id), keys.itemCovisit(id), keys.itemCovisit(id) + ':landmark'];
    const dedupBytes = await meanUsage(client, events.slice(0, 2_000).map((event) => [keys.dedup(event.sessionId, event.eventId)]));
    const poolKeys = (await client.keys('{pool}:*')).map((name) => [name]);
    return [
      { family: 'session (recent, affinity, engaged, seen, counters)', entities: sessions.length, meanBytes: await meanUsage(client, sessions.map(sessionKeys)) },
      { family: 'user (affinity, engaged items)', entities: users.length, meanBytes: await meanUsage(client, users.map(userKeys)) },
      { family: 'item (snapshot, catalog, co-visitation)', entities: items.length, meanBytes: await meanUsage(client, items.map(itemKeys)) },
      { family: 'event id (dedup, 1 day)', entities: events.length, meanBytes: dedupBytes },
      { family: 'all pools together', entities: 1, meanBytes: (await meanUsage(client, poolKeys)) * poolKeys.length },
    ];
  } finally {
    client.disconnect();
    await server.stop();
  }
}

async function meanUsage(client: Redis, groups: string[][]): Promise<number> {
  let total = 0;
  for (const group of groups) {
    const pipeline = client.pipeline();
    for (const name of group) {
      pipeline.memory('USAGE', name);
    }
    for (const [, bytes] of (await pipeline.exec()) ?? []) {
      total += Number(bytes ?? 0);
    }
  }
  return Math.round(total / Math.max(1, groups.length));
}
