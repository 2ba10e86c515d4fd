import { startServer } from '@nexttap/cli';
import { readMovieLensCatalog } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { seededRandom } from '@nexttap/rank';
import { startRedisServer } from '@nexttap/testkit';
import autocannon from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { allCores, canPinCores, OWN_CORE, pinMainThread, setRedisServerCores } from './core-pinning';
import { runPacedLoad, type PacedLoadOptions, type PacedLoadResult } from './paced-load';

import { benchRankerConfig, MOVIELENS_DIR } from './ranker-config';
/** Distinct request bodies cycled through by autocannon, each with its own session and candidates. */
const REQUEST_VARIANTS = 200;
/** Connections that carry the fixed rate; enough that one slow reply does not hold the rate back. */
const CONNECTIONS = 16;
/** Requests sent one at a time to measure CPU time per request. */
const CPU_SAMPLE_REQUESTS = 400;
/**
 * Repetitions of the own-core paced run. On a 2-core virtual machine the p99 of one 10-second run
 * at 1,000 requests per second varied from 10.7 to 29.6 ms between runs of the same build. One
 * run cannot tell a change from noise, so the table shows every run's p99 and their median.
 */
export const OWN_CORE_RUNS = 3;

export interface FeedRulesLatencyRow {
  /** `bare fastify` or `feed`. */
  route: string;
  store: 'memory' | 'redis' | '-';
  candidates: number;
  targetRate: number;
  achievedRate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Feeds served degraded during the run, from the ranker's counter. */
  degraded: number;
  /**
   * Process CPU time per request, in ms, over requests sent one at a time with fastify's `inject`
   * after the load run. It depends much less than the latencies on what else runs on the machine.
   */
  cpuMsPerRequest: number;
  /**
   * The same route at the same rate with evenly spaced arrivals (`runPacedLoad`), each latency
   * counted from the request's due time.
   */
  paced: PacedLoadResult;
  /**
   * The paced run again, `OWN_CORE_RUNS` times, with the server's event loop thread alone on one
   * core and the load generator and redis-server on the other (`OWN_CORE`). Empty where threads
   * cannot be pinned.
   */
  ownCore: PacedLoadResult[];
}

/** Load points of the ranker's latency targets: candidates per request and requests per second. */
export const FEED_LOAD_POINTS = [
  { candidates: 200, rate: 1_000 },
  { candidates: 500, rate: 500 },
] as const;

/**
 * Measures `POST /v1/feed` re-ranking 200 and 500 MovieLens candidates with every feed rule on at
 * its default, at a fixed request rate with autocannon, on the memory and the Redis store. A bare
 * fastify route that parses the same bodies is measured in the same run. The ranker's store budget is raised to
 * 1 s so that the figures are of full feeds; the degraded column shows whether any fell back.
 */
export async function benchFeedRulesLatency(durationSeconds: number): Promise<FeedRulesLatencyRow[]> {
  const catalog = await readMovieLensCatalog(MOVIELENS_DIR);
  const itemIds = catalog.map((item) => item.itemId);
  const rows: FeedRulesLatencyRow[] = [];
  for (const point of FEED_LOAD_POINTS) {
    rows.push(await measureBareRoute(requestBodies(itemIds, point.candidates), point.rate, durationSeconds, point.candidates));
  }
  for (const store of ['memory', 'redis'] as const) {
    rows.push(...(await measureRanker(store, itemIds, durationSeconds)));
  }
  return rows;
}

/** Builds request bodies: each a session of its own with `candidates` ids drawn without repeats. */
export function requestBodies(itemIds: readonly string[], candidates: number): string[] {
  const random = seededRandom(candidates);
  return Array.from({ length: REQUEST_VARIANTS }, (_, index) => {
    const chosen = new Set<string>();
    while (chosen.size < candidates) {
      chosen.add(itemIds[Math.floor(random() * itemIds.length)] as string);
    }
    return JSON.stringify({ sessionId: `${(index % 600) + 1}-bench`, userId: String((index % 600) + 1), limit: 20, candidates: [...chosen] });
  });
}

/**
 * Sends the bodies in turn at `rate` requests per second. autocannon runs in a worker thread of its
 * own, so that generating the load does not share the server's event loop and add to its latency.
 * NOTE: autocannon 8 paces per second: each connection sends back to back until it has made its
 * share of the second, then waits for the next one, so the server gets bursts of `CONNECTIONS`
 * concurrent requests. Its coordinated-omission correction then assumes 1 ms between a
 * connection's requests and adds a sample for every further millisecond of a slow response. Both
 * raise its p99; `runPacedLoad` measures the same rate with evenly spaced arrivals.
 */
async function load(url: string, path: string, bodies: readonly string[], rate: number, durationSeconds: number) {
  const requests = bodies.map((body) => ({ method: 'POST' as const, path, headers: { 'content-type': 'application/json' }, body }));
  return autocannon({ url, connections: CONNECTIONS, overallRate: rate, duration: durationSeconds, requests, workers: 1 });
}

async function measureBareRoute(bodies: readonly string[], rate: number, durationSeconds: number, candidates: number): Promise<FeedRulesLatencyRow> {
  const app = Fastify({ bodyLimit: 1_048_576 });
  // Parses the body as the feed route does and replies with a body of a feed's size (20 items).
  const reply = { items: Array.from({ length: 20 }, (_, position) => ({ itemId: `item-${position}`, position, score: 0.5, sources: ['request'] })) };
  app.post('/bare', async (request) => ({ ...reply, received: (request.body as { candidates: unknown[] }).candidates.length }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const result = await load(url, '/bare', bodies, rate, durationSeconds);
    const paced = await runPacedLoad({ url, path: '/bare', bodies, rate, durationSeconds });
    const ownCore = await runOnOwnCore({ url, path: '/bare', bodies, rate, durationSeconds }, undefined);
    return row('bare fastify', '-', candidates, rate, result, paced, ownCore, 0, await cpuPerRequest(app, '/bare', bodies));
  } finally {
    await app.close();
  }
}

async function measureRanker(store: 'memory' | 'redis', itemIds: readonly string[], durationSeconds: number): Promise<FeedRulesLatencyRow[]> {
  const rows: FeedRulesLatencyRow[] = [];
  // Each load point gets a ranker (and a redis-server) of its own. A ranker keeps every served
  // feed's record for SERVED_FEED_TTL_MS, and on the memory store that is heap: 6.9 KB per feed of
  // 200 candidates, about 350 MB after the 50,000 feeds of the 200-candidate point. On a shared
  // ranker the 500-candidate point then measured old-space collections of that heap.
  for (const point of FEED_LOAD_POINTS) {
    const redis = store === 'redis' ? await startRedisServer() : undefined;
    const config = benchRankerConfig(redis?.url, { FEED_STORE_BUDGET_MS: '1000' });
    const server = await startServer('ranker', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
    const redisClient = redis === undefined ? undefined : new Redis(redis.url);
    try {
      const bodies = requestBodies(itemIds, point.candidates);
      const degradedBefore = await degradedCount(server.url);
      const result = await load(server.url, '/v1/feed', bodies, point.rate, durationSeconds);
      const paced = await runPacedLoad({ url: server.url, path: '/v1/feed', bodies, rate: point.rate, durationSeconds });
      const ownCore = await runOnOwnCore({ url: server.url, path: '/v1/feed', bodies, rate: point.rate, durationSeconds }, redisClient);
      const degraded = (await degradedCount(server.url)) - degradedBefore;
      rows.push(row('feed', store, point.candidates, point.rate, result, paced, ownCore, degraded, await cpuPerRequest(server.app, '/v1/feed', bodies)));
    } finally {
      await redisClient?.quit();
      await server.close();
      await redis?.stop();
    }
  }
  return rows;
}

/**
 * Runs the paced load `OWN_CORE_RUNS` times with this process's event loop thread (the server's)
 * pinned to one core and the generator and, with `redis`, the redis-server pinned to the other,
 * then gives every thread back its cores. Returns no runs where threads cannot be pinned.
 */
async function runOnOwnCore(options: PacedLoadOptions, redis: Redis | undefined): Promise<PacedLoadResult[]> {
  if (!canPinCores()) {
    return [];
  }
  const unpin = pinMainThread(OWN_CORE.server);
  try {
    if (redis !== undefined) {
      await setRedisServerCores(redis, String(OWN_CORE.load));
    }
    const runs: PacedLoadResult[] = [];
    for (let run = 0; run < OWN_CORE_RUNS; run++) {
      runs.push(await runPacedLoad({ ...options, cpu: OWN_CORE.load }));
    }
    return runs;
  } finally {
    unpin();
    if (redis !== undefined) {
      await setRedisServerCores(redis, allCores());
    }
  }
}

/** Sends the bodies one at a time through `inject` and returns the process CPU time per request, in ms. */
async function cpuPerRequest(app: FastifyInstance, path: string, bodies: readonly string[]): Promise<number> {
  const started = process.cpuUsage();
  for (let index = 0; index < CPU_SAMPLE_REQUESTS; index++) {
    const response = await app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json' }, payload: bodies[index % bodies.length] });
    if (response.statusCode !== 200) {
      throw new Error(`${path} replied ${response.statusCode} during the CPU sample: ${response.body}`);
    }
  }
  const used = process.cpuUsage(started);
  return Math.round(((used.user + used.system) / 1_000 / CPU_SAMPLE_REQUESTS) * 100) / 100;
}

/** Reads the sum of `nexttap_feed_degraded_total` over its reasons from the server's metrics. */
async function degradedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('nexttap_feed_degraded_total{')) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

function row(
  route: string,
  store: FeedRulesLatencyRow['store'],
  candidates: number,
  rate: number,
  result: autocannon.Result,
  paced: PacedLoadResult,
  ownCore: PacedLoadResult[],
  degraded: number,
  cpuMsPerRequest: number,
): FeedRulesLatencyRow {
  return {
    route,
    store,
    candidates,
    targetRate: rate,
    achievedRate: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    degraded,
    cpuMsPerRequest,
    paced,
    ownCore,
  };
}
