/**
 * Measures the ranker's process CPU time per `POST /v1/feed` on the Redis store, with the bodies of
 * `bench/feed-rules-latency.ts`, sent one at a time through fastify's `inject`. One sample of a few
 * hundred requests moves by 0.3 ms or more on a machine shared with other work. So the sample is
 * repeated, and two commits are compared by their medians.
 *
 * Run: `npx tsx bench/feed-cpu-per-request.ts` (`ROUNDS`, `REQUESTS` and `CANDIDATES` override the defaults).
 */
import { startServer } from '@nexttap/cli';
import { readMovieLensCatalog } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { startRedisServer } from '@nexttap/testkit';
import type { FastifyInstance } from 'fastify';
import { requestBodies } from './feed-rules-latency';
import { benchRankerConfig, MOVIELENS_DIR } from './ranker-config';

/** Requests sent before the first sample, so that the JIT and the item cache are warm. */
const WARM_UP_REQUESTS = 1_000;
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const REQUESTS = Number(process.env.REQUESTS ?? 500);
const CANDIDATES = (process.env.CANDIDATES ?? '200,500').split(',').map(Number);

async function cpuMsPerRequest(app: FastifyInstance, bodies: readonly string[], requests: number): Promise<number> {
  const started = process.cpuUsage();
  for (let index = 0; index < requests; index++) {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', headers: { 'content-type': 'application/json' }, payload: bodies[index % bodies.length] });
    if (response.statusCode !== 200) {
      throw new Error(`/v1/feed replied ${response.statusCode}: ${response.body}`);
    }
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1_000 / requests;
}

const itemIds = (await readMovieLensCatalog(MOVIELENS_DIR)).map((item) => item.itemId);
const redis = await startRedisServer();
const config = benchRankerConfig(redis.url, { FEED_STORE_BUDGET_MS: '1000' });
const server = await startServer('ranker', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
try {
  for (const candidates of CANDIDATES) {
    const bodies = requestBodies(itemIds, candidates);
    await cpuMsPerRequest(server.app, bodies, WARM_UP_REQUESTS);
    const samples: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      samples.push(await cpuMsPerRequest(server.app, bodies, REQUESTS));
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const median = ((sorted[Math.floor((sorted.length - 1) / 2)] as number) + (sorted[Math.ceil((sorted.length - 1) / 2)] as number)) / 2;
    process.stdout.write(`${candidates} candidates: CPU ms per request median ${median.toFixed(2)}, samples ${samples.map((value) => value.toFixed(2)).join(' ')}\n`);
  }
} finally {
  await server.close();
  await redis.stop();
}
