// Measures feature writes on a private three-master Redis Cluster against a single private Redis,
// and the memory of the slot markers that a crash between the two write phases leaves behind.
// Usage: npx tsx bench/cluster-writes.ts [-- --events N]
import { parseArgs } from 'node:util';
import { applyCatalogItems, applyInteractions, keys, type FeatureStore } from '@nexttap/features';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { RedisClusterFeatureStore, RedisFeatureStore } from '@nexttap/store';
import { startRedisCluster, startRedisServer } from '@nexttap/testkit';
import { Cluster, Redis, type ChainableCommander } from 'ioredis';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
const BATCH = 500;
/** Event rate of the live timeline, as in write-throughput.ts. */
const LIVE_RATE_PER_SECOND = 10_000;

const { values } = parseArgs({ options: { events: { type: 'string', default: '20000' } } });
const eventCount = Number(values.events);
const catalog = await readMovieLensCatalog(MOVIELENS_DIR);
const history = (await readMovieLensEvents(MOVIELENS_DIR)).slice(0, eventCount);
const startMs = Date.now();
const events = history.map((event, index) => ({ ...event, ts: startMs + Math.floor((index * 1000) / LIVE_RATE_PER_SECOND) }));

/**
 * Applies the events in batches of 500, one in flight. Returns events/s, Redis µs per event summed
 * over `nodes`, and the mean `MEMORY USAGE` of the first 1,000 events' dedup keys.
 */
async function measure(store: FeatureStore, nodes: Redis[], client: Redis | Cluster): Promise<{ eventsPerSecond: number; redisMicrosecondsPerEvent: number; dedupBytes: number }> {
  await applyCatalogItems(store, catalog);
  await Promise.all(nodes.map((node) => node.config('RESETSTAT')));
  const startedNs = process.hrtime.bigint();
  for (let start = 0; start < events.length; start += BATCH) {
    await applyInteractions(store, events.slice(start, start + BATCH));
  }
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  let microseconds = 0;
  for (const node of nodes) {
    const line = (await node.info('commandstats')).split('\n').find((entry) => entry.startsWith('cmdstat_evalsha:'));
    microseconds += Number(/usec=(\d+)/.exec(line ?? '')?.[1] ?? 0);
  }
  const sample = events.slice(0, 1_000);
  let dedupBytes = 0;
  for (const event of sample) {
    dedupBytes += Number(await client.memory('USAGE', keys.dedup(event.sessionId, event.eventId)));
  }
  return {
    eventsPerSecond: Math.round(events.length / seconds),
    redisMicrosecondsPerEvent: Math.round(microseconds / events.length),
    dedupBytes: Math.round(dedupBytes / sample.length),
  };
}

/**
 * Applies one batch while every pipeline carrying only home parts fails, as a crash after the
 * remote phase would, and returns the markers left per event and their mean `MEMORY USAGE`.
 */
async function measureLeftMarkers(cluster: Cluster): Promise<{ markersPerEvent: number; meanBytes: number }> {
  const prefix = 'markers:';
  const store = new RedisClusterFeatureStore(cluster, { keyPrefix: prefix });
  await applyCatalogItems(store, catalog);
  const original = cluster.pipeline.bind(cluster);
  cluster.pipeline = ((...args: Parameters<Cluster['pipeline']>): ChainableCommander => {
    const pipeline = original(...args);
    const routingKeys: string[] = [];
    const applySlot = pipeline.nexttapApplySlot.bind(pipeline);
    pipeline.nexttapApplySlot = (routingKey: string, batch: Buffer) => {
      routingKeys.push(routingKey);
      return applySlot(routingKey, batch);
    };
    const exec = pipeline.exec.bind(pipeline);
    pipeline.exec = () =>
      routingKeys.length > 0 && routingKeys.every((key) => !key.startsWith(`${prefix}m:{`)) ? Promise.reject(new Error('simulated crash')) : exec();
    return pipeline;
  }) as Cluster['pipeline'];
  const batch = events.slice(0, BATCH);
  await applyInteractions(store, batch).catch(() => undefined);
  cluster.pipeline = original;

  let markers = 0;
  let bytes = 0;
  for (const node of cluster.nodes('master')) {
    for (const key of await node.keys(`${prefix}m:{*`)) {
      markers += 1;
      bytes += Number(await node.memory('USAGE', key));
    }
  }
  return { markersPerEvent: Number((markers / batch.length).toFixed(2)), meanBytes: Math.round(bytes / markers) };
}

const server = await startRedisServer();
const single = new Redis(server.url);
const singleResult = await measure(new RedisFeatureStore(single), [single], single);
single.disconnect();
await server.stop();

const redisCluster = await startRedisCluster();
const cluster = new Cluster([...redisCluster.nodes], { lazyConnect: true });
await cluster.connect();
const clusterResult = await measure(new RedisClusterFeatureStore(cluster), cluster.nodes('master'), cluster);
const markers = await measureLeftMarkers(cluster);
cluster.disconnect();
await redisCluster.stop();

console.log(`${events.length} MovieLens events, live timeline, batches of ${BATCH}, one in flight\n`);
console.log('| feature store | events/s | Redis µs per event (all masters) | bytes per dedup key |');
console.log('| --- | --- | --- | --- |');
console.log(`| single redis-server | ${singleResult.eventsPerSecond} | ${singleResult.redisMicrosecondsPerEvent} | ${singleResult.dedupBytes} |`);
console.log(`| Redis Cluster, 3 masters | ${clusterResult.eventsPerSecond} | ${clusterResult.redisMicrosecondsPerEvent} | ${clusterResult.dedupBytes} |`);
console.log(`\nmarkers left by a crash before the home phase: ${markers.markersPerEvent} per event, ${markers.meanBytes} bytes each`);
process.exit(0);
