import { parseServerConfig, startServer } from '@nexttap/cli';
import { readMovieLensCatalog } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { seededRandom } from '@nexttap/rank';
import { startRedisServer } from '@nexttap/testkit';
import autocannon from 'autocannon';
import Fastify from 'fastify';

const MODEL_DIR = new URL('../models/movielens-mlp/1', import.meta.url).pathname;
const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
/** Distinct request bodies cycled through by autocannon, each with its own session and candidates. */
const REQUEST_VARIANTS = 200;
/** Connections that carry the fixed rate; enough that one slow reply does not hold the rate back. */
const CONNECTIONS = 16;

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
function requestBodies(itemIds: readonly string[], candidates: number): string[] {
  const random = seededRandom(candidates);
  return Array.from({ length: REQUEST_VARIANTS }, (_, index) => {
    const chosen = new Set<string>();
    while (chosen.size < candidates) {
      chosen.add(itemIds[Math.floor(random() * itemIds.length)] as string);
    }
    return JSON.stringify({ sessionId: `${(index % 600) + 1}-bench`, userId: String((index % 600) + 1), limit: 20, candidates: [...chosen] });
  });
}

async function load(url: string, path: string, bodies: readonly string[], rate: number, durationSeconds: number) {
  const requests = bodies.map((body) => ({ method: 'POST' as const, path, headers: { 'content-type': 'application/json' }, body }));
  return autocannon({ url, connections: CONNECTIONS, overallRate: rate, duration: durationSeconds, requests });
}

async function measureBareRoute(bodies: readonly string[], rate: number, durationSeconds: number, candidates: number): Promise<FeedRulesLatencyRow> {
  const app = Fastify({ bodyLimit: 1_048_576 });
  // Parses the body as the feed route does and replies with a body of a feed's size (20 items).
  const reply = { items: Array.from({ length: 20 }, (_, position) => ({ itemId: `item-${position}`, position, score: 0.5, sources: ['request'] })) };
  app.post('/bare', async (request) => ({ ...reply, received: (request.body as { candidates: unknown[] }).candidates.length }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const result = await load(url, '/bare', bodies, rate, durationSeconds);
    return row('bare fastify', '-', candidates, rate, result, 0);
  } finally {
    await app.close();
  }
}

async function measureRanker(store: 'memory' | 'redis', itemIds: readonly string[], durationSeconds: number): Promise<FeedRulesLatencyRow[]> {
  const redis = store === 'redis' ? await startRedisServer() : undefined;
  const config = parseServerConfig({
    PORT: '0',
    MODEL_DIR,
    MOVIELENS_DIR,
    LOG_LEVEL: 'silent',
    SEED_DATASET: 'movielens',
    FEED_STORE_BUDGET_MS: '1000',
    ...(redis === undefined ? {} : { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '1000' }),
  });
  const server = await startServer('ranker', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
  const rows: FeedRulesLatencyRow[] = [];
  try {
    for (const point of FEED_LOAD_POINTS) {
      const degradedBefore = await degradedCount(server.url);
      const result = await load(server.url, '/v1/feed', requestBodies(itemIds, point.candidates), point.rate, durationSeconds);
      rows.push(row('feed', store, point.candidates, point.rate, result, (await degradedCount(server.url)) - degradedBefore));
    }
  } finally {
    await server.close();
    await redis?.stop();
  }
  return rows;
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

function row(route: string, store: FeedRulesLatencyRow['store'], candidates: number, rate: number, result: autocannon.Result, degraded: number): FeedRulesLatencyRow {
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
  };
}
