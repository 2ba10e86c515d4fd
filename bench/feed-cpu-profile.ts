/**
 * Profiles `POST /v1/feed` on one store: after a warm-up, sends `REQUESTS` requests one at a time
 * through fastify's `inject` with the bodies of `bench/feed-rules-latency.ts`, and prints the
 * process CPU time per request and the mean time of each feed stage. With `PROFILE=path` it
 * writes a V8 CPU profile of the measured requests only (open it in Chrome DevTools), so that
 * seeding the store and the warm-up do not show in it.
 *
 * Run: `STORE=memory PROFILE=/tmp/feed.cpuprofile npx tsx bench/feed-cpu-profile.ts`. `STORE`
 * (redis or memory, default redis), `CANDIDATES` (default 200) and `REQUESTS` (default 4,000)
 * override the defaults.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { startServer } from '@nexttap/cli';
import { readMovieLensCatalog } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { startRedisServer } from '@nexttap/testkit';
import type { FastifyInstance } from 'fastify';
import { requestBodies } from './feed-rules-latency';
import { benchRankerConfig, MOVIELENS_DIR } from './ranker-config';

const STORE = process.env.STORE ?? 'redis';
const CANDIDATES = Number(process.env.CANDIDATES ?? 200);
const REQUESTS = Number(process.env.REQUESTS ?? 4_000);
const PROFILE = process.env.PROFILE;
/** Requests sent before measuring, so that the JIT and the item cache are warm. */
const WARM_UP_REQUESTS = 1_000;
/** Sampling interval of the CPU profile, in µs. Node's `--cpu-prof-interval` defaults to 1,000 µs, about one sample per feed. */
const PROFILE_INTERVAL_US = 200;
const STAGES = ['session', 'candidates', 'features', 'inference', 'rules'] as const;

async function sendFeeds(app: FastifyInstance, bodies: readonly string[], requests: number): Promise<void> {
  for (let index = 0; index < requests; index++) {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', headers: { 'content-type': 'application/json' }, payload: bodies[index % bodies.length] });
    if (response.statusCode !== 200) {
      throw new Error(`/v1/feed replied ${response.statusCode}: ${response.body}`);
    }
  }
}

/** Returns the mean of each stage in ms, from the ranker's stage histogram (warm-up included). */
async function stageMeansMs(app: FastifyInstance): Promise<string> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^nexttap_feed_stage_duration_seconds_(sum|count)\{stage="(\w+)"\} (\S+)$/.exec(line);
    if (match !== null) {
      totals.set(`${match[2]}.${match[1]}`, Number(match[3]));
    }
  }
  return STAGES.map((stage) => `${stage} ${((1000 * (totals.get(`${stage}.sum`) ?? 0)) / (totals.get(`${stage}.count`) ?? 1)).toFixed(3)}`).join(', ');
}

if (STORE !== 'redis' && STORE !== 'memory') {
  throw new Error(`STORE is ${STORE}; set it to redis or memory`);
}
const itemIds = (await readMovieLensCatalog(MOVIELENS_DIR)).map((item) => item.itemId);
const redis = STORE === 'redis' ? await startRedisServer() : undefined;
const config = benchRankerConfig(redis?.url, { FEED_STORE_BUDGET_MS: '1000' });
const server = await startServer('ranker', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
const inspector = new Session();
try {
  const bodies = requestBodies(itemIds, CANDIDATES);
  await sendFeeds(server.app, bodies, WARM_UP_REQUESTS);
  if (PROFILE !== undefined) {
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
    await inspector.post('Profiler.start');
  }
  const started = process.cpuUsage();
  await sendFeeds(server.app, bodies, REQUESTS);
  const used = process.cpuUsage(started);
  if (PROFILE !== undefined) {
    const { profile } = await inspector.post('Profiler.stop');
    writeFileSync(PROFILE, JSON.stringify(profile));
  }
  process.stdout.write(`${STORE}, ${CANDIDATES} candidates: CPU ms per request ${((used.user + used.system) / 1_000 / REQUESTS).toFixed(3)}\n`);
  process.stdout.write(`stage means in ms: ${await stageMeansMs(server.app)}\n`);
} finally {
  inspector.disconnect();
  await server.close();
  await redis?.stop();
}
