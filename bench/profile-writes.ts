// Applies MovieLens events to a private Redis as bench/write-throughput.ts does (live timeline) and
// prints where redis-server spends its time: CPU per event, and `INFO commandstats` per event for
// each command, the apply script included.
// Usage: npx tsx bench/profile-writes.ts [--events N] [--in-flight N]
import { parseArgs } from 'node:util';
import { applyCatalogItems } from '@nexttap/features';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { RedisFeatureStore } from '@nexttap/store';
import { startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { redisCpuSeconds } from './redis-cpu';
import { applyStreams, splitBySession } from './event-streams';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
/** Events per second of event time on the live timeline, as in bench/write-throughput.ts. */
const LIVE_RATE_PER_SECOND = 10_000;

interface CommandStat {
  calls: number;
  usec: number;
}

const { values } = parseArgs({ options: { events: { type: 'string', default: '30000' }, 'in-flight': { type: 'string', default: '3' } } });
const eventCount = Number(values.events);
const inFlight = Number(values['in-flight']);

const server = await startRedisServer();
const client = new Redis(server.url);
try {
  const store = new RedisFeatureStore(client);
  await applyCatalogItems(store, await readMovieLensCatalog(MOVIELENS_DIR));
  const startMs = Date.now();
  const events = (await readMovieLensEvents(MOVIELENS_DIR))
    .slice(0, eventCount)
    .map((event, index) => ({ ...event, ts: startMs + Math.floor((index * 1000) / LIVE_RATE_PER_SECOND) }));
  const streams = splitBySession(events, inFlight);

  await client.config('RESETSTAT');
  const redisCpuBefore = await redisCpuSeconds(client);
  const nodeCpuBefore = process.cpuUsage();
  const startedNs = process.hrtime.bigint();
  await applyStreams(store, streams);
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  const nodeCpu = process.cpuUsage(nodeCpuBefore);
  const redisCpu = (await redisCpuSeconds(client)) - redisCpuBefore;

  console.log(`${events.length} events, ${inFlight} batches in flight: ${Math.round(events.length / seconds)} events/s`);
  console.log(`Node CPU ${((nodeCpu.user + nodeCpu.system) / events.length).toFixed(1)} µs/event, redis-server CPU ${((redisCpu * 1e6) / events.length).toFixed(1)} µs/event`);
  // commandstats counts wall time inside each command, so on a loaded machine it runs above the
  // CPU time. The script's time includes the commands it calls.
  console.log('| command | calls/event | µs/event | µs/call |');
  console.log('| --- | --- | --- | --- |');
  const stats = [...(await commandStats(client))].sort((a, b) => b[1].usec - a[1].usec);
  for (const [name, stat] of stats) {
    console.log(`| ${name} | ${(stat.calls / events.length).toFixed(2)} | ${(stat.usec / events.length).toFixed(2)} | ${(stat.usec / stat.calls).toFixed(2)} |`);
  }
} finally {
  client.disconnect();
  await server.stop();
}

async function commandStats(redis: Redis): Promise<Map<string, CommandStat>> {
  const stats = new Map<string, CommandStat>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (match) {
      stats.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) });
    }
  }
  return stats;
}
