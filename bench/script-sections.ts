// Measures what each section of the apply script costs redis-server. It records the script
// arguments of a write run (MovieLens, live timeline, batches of 500, 3 in flight, as in
// bench/write-throughput.ts), then replays them on fresh servers with copies of the script that
// return just before a section starts. The difference in CPU per event between consecutive
// copies is the section's share. A copy that stops early leaves less state for the next batches,
// so the shares are estimates. Usage: npx tsx bench/script-sections.ts [--events N] [--rounds N]
import { parseArgs } from 'node:util';
import { applyCatalogItems } from '@nexttap/features';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { APPLY_SCRIPT, RedisFeatureStore } from '@nexttap/store';
import { startRedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { redisCpuSeconds } from './redis-cpu';
import { applyStreams, splitBySession } from './event-streams';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
const IN_FLIGHT = 3;
const LIVE_RATE_PER_SECOND = 10_000;

/** Lines of the script that start a section, in script order, and the name printed for it. */
const SECTIONS: ReadonlyArray<[name: string, firstLine: string]> = [
  ['decode the argument', 'local batch = cmsgpack.unpack(ARGV[1])'],
  ['dedup check and marks', 'local dedup_keys = {}'],
  ['decayed hashes', 'local hash_values = {}'],
  ['packed records', 'local pack_formats = {}'],
  ['decayed sorted sets', 'local zset_decay = batch.zsetDecay'],
  ['sorted-set adds', 'local ZADD_MODE_FLAGS'],
  ['trims', 'for i = 1, #batch.trims, 2 do'],
  ['lists', 'for _, entry in ipairs(batch.lists) do'],
  ['plain hash writes and strings', 'for _, entry in ipairs(batch.hashSet) do'],
  ['hash snapshots', 'for _, entry in ipairs(batch.snapshots) do'],
  ['expiries', 'for _, group in ipairs(batch.expires) do'],
];

interface RecordedCall {
  catalog: boolean;
  argument: Buffer;
}

const { values } = parseArgs({ options: { events: { type: 'string', default: '30000' }, rounds: { type: 'string', default: '3' } } });
const eventCount = Number(values.events);
const calls = await recordScriptCalls(eventCount);
const variants = SECTIONS.map(([name, firstLine]): [string, string] => {
  const at = APPLY_SCRIPT.indexOf(firstLine);
  if (at < 0) {
    throw new Error(`section start "${firstLine}" not found in apply-script.lua; update SECTIONS to the script`);
  }
  return [name, `${APPLY_SCRIPT.slice(0, at)}\ndo return {} end\n${APPLY_SCRIPT.slice(at)}`];
});
variants.push(['(whole script)', APPLY_SCRIPT]);

const microsByVariant = variants.map(() => [] as number[]);
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [index, [, script]] of variants.entries()) {
    microsByVariant[index]?.push(await replayMicrosPerEvent(calls, script, eventCount));
  }
}
const medians = microsByVariant.map((rounds) => [...rounds].sort((a, b) => a - b)[Math.floor(rounds.length / 2)] ?? 0);
console.log(`${eventCount} events: redis-server CPU µs per event of the script up to the end of each section, per round, and the section's share (medians)`);
console.log('| section | µs/event up to its end | share, µs/event |');
console.log('| --- | --- | --- |');
console.log(`| (script call, before decoding) | ${(microsByVariant[0] ?? []).map((micros) => micros.toFixed(1)).join(' / ')} | ${(medians[0] ?? 0).toFixed(1)} |`);
SECTIONS.forEach(([name], index) => {
  const rounds = microsByVariant[index + 1] ?? [];
  const share = (medians[index + 1] ?? 0) - (medians[index] ?? 0);
  console.log(`| ${name} | ${rounds.map((micros) => micros.toFixed(1)).join(' / ')} | ${share.toFixed(1)} |`);
});
process.exit(0);

/** Runs the write benchmark's live timeline on a private Redis and returns every script argument sent. */
async function recordScriptCalls(count: number): Promise<RecordedCall[]> {
  const server = await startRedisServer();
  const client = new Redis(server.url);
  const recorded: RecordedCall[] = [];
  try {
    const store = new RedisFeatureStore(client);
    const send = client.nexttapApplyBatch.bind(client);
    let catalog = true;
    client.nexttapApplyBatch = (argument: Buffer) => {
      recorded.push({ catalog, argument });
      return send(argument);
    };
    await applyCatalogItems(store, await readMovieLensCatalog(MOVIELENS_DIR));
    catalog = false;
    const startMs = Date.now();
    const events = (await readMovieLensEvents(MOVIELENS_DIR))
      .slice(0, count)
      .map((event, index) => ({ ...event, ts: startMs + Math.floor((index * 1000) / LIVE_RATE_PER_SECOND) }));
    const streams = splitBySession(events, IN_FLIGHT);
    await applyStreams(store, streams);
  } finally {
    client.disconnect();
    await server.stop();
  }
  return recorded;
}

/** Replays the recorded calls on a fresh server, the catalog with the full script, and returns the CPU µs per event of the rest. */
async function replayMicrosPerEvent(recorded: readonly RecordedCall[], script: string, count: number): Promise<number> {
  const server = await startRedisServer();
  const client = new Redis(server.url);
  try {
    for (const call of recorded.filter((entry) => entry.catalog)) {
      await client.eval(APPLY_SCRIPT, 0, call.argument);
    }
    const sha = String(await client.script('LOAD', script));
    const pending = recorded.filter((entry) => !entry.catalog);
    const cpuBefore = await redisCpuSeconds(client);
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < pending.length) {
          const call = pending[next++] as RecordedCall;
          await client.evalsha(sha, 0, call.argument);
        }
      }),
    );
    return (((await redisCpuSeconds(client)) - cpuBefore) * 1e6) / count;
  } finally {
    client.disconnect();
    await server.stop();
  }
}

