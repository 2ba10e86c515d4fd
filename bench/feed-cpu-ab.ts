/**
 * Compares the process CPU time per `POST /v1/feed` of two checkouts in one process. A ranker of
 * the checkout at `BASE_DIR` and one of this checkout, each on its own private Redis, take turns
 * in rounds of `REQUESTS` requests sent with fastify's `inject`. On a machine shared with other
 * work, two runs of `bench/feed-cpu-per-request.ts` can differ by a third. The rounds here
 * alternate within seconds of each other, so the per-round ratio mostly cancels the load.
 *
 * Run: `BASE_DIR=/path/to/other/checkout npx tsx bench/feed-cpu-ab.ts`. The other checkout needs
 * its dependencies installed (for instance `git worktree add` then `npm ci`). `ROUNDS`,
 * `REQUESTS` and `CANDIDATES` override the defaults, and `STORE=memory` runs both rankers on the
 * in-process store instead of Redis.
 */
import { readMovieLensCatalog } from '@nexttap/movielens';
import type { FastifyInstance } from 'fastify';
import { requestBodies } from './feed-rules-latency';
import { MOVIELENS_DIR } from './ranker-config';

const BASE_DIR = process.env.BASE_DIR;
const ROUNDS = Number(process.env.ROUNDS ?? 16);
const REQUESTS = Number(process.env.REQUESTS ?? 200);
const CANDIDATES = (process.env.CANDIDATES ?? '200,500').split(',').map(Number);
const STORE = process.env.STORE ?? 'redis';
/** Requests each ranker serves before the first round, so that the JIT and the item caches are warm. */
const WARM_UP_REQUESTS = 1_000;

interface BenchRanker {
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Starts the ranker of the checkout at `root` with that checkout's own modules. */
async function startRanker(root: string): Promise<BenchRanker> {
  const cli = await import(`${root}/packages/cli/src/index.ts`);
  const observability = await import(`${root}/packages/observability/src/index.ts`);
  const testkit = await import(`${root}/packages/testkit/src/index.ts`);
  const rankerConfig = await import(`${root}/bench/ranker-config.ts`);
  const redis = STORE === 'memory' ? undefined : await testkit.startRedisServer();
  const config = rankerConfig.benchRankerConfig(redis?.url, { FEED_STORE_BUDGET_MS: '1000' });
  const server = await cli.startServer('ranker', config, { logger: observability.createLogger({ level: 'silent', service: 'bench' }) });
  return {
    app: server.app as FastifyInstance,
    close: async () => {
      await server.close();
      await redis?.stop();
    },
  };
}

async function cpuMsPerRequest(app: FastifyInstance, bodies: readonly string[], requests: number, firstBody: number): Promise<number> {
  const started = process.cpuUsage();
  for (let index = 0; index < requests; index++) {
    const payload = bodies[(firstBody + index) % bodies.length];
    const response = await app.inject({ method: 'POST', url: '/v1/feed', headers: { 'content-type': 'application/json' }, payload });
    if (response.statusCode !== 200) {
      throw new Error(`/v1/feed replied ${response.statusCode}: ${response.body}`);
    }
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1_000 / requests;
}

function formatMs(value: number): string {
  return value.toFixed(2);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[Math.floor((sorted.length - 1) / 2)] as number) + (sorted[Math.ceil((sorted.length - 1) / 2)] as number)) / 2;
}

if (BASE_DIR === undefined) {
  throw new Error('BASE_DIR is not set; set it to the path of the checkout to compare against');
}
if (STORE !== 'redis' && STORE !== 'memory') {
  throw new Error(`STORE is ${STORE}; set it to redis or memory`);
}
const itemIds = (await readMovieLensCatalog(MOVIELENS_DIR)).map((item) => item.itemId);
const rankers = { base: await startRanker(BASE_DIR), this: await startRanker(new URL('..', import.meta.url).pathname) };
try {
  for (const candidates of CANDIDATES) {
    const bodies = requestBodies(itemIds, candidates);
    await cpuMsPerRequest(rankers.base.app, bodies, WARM_UP_REQUESTS, 0);
    await cpuMsPerRequest(rankers.this.app, bodies, WARM_UP_REQUESTS, 0);
    const samples = { base: [] as number[], this: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternating which goes first keeps a load that rises or falls during a round from favouring one.
      const order = round % 2 === 0 ? (['base', 'this'] as const) : (['this', 'base'] as const);
      for (const side of order) {
        samples[side].push(await cpuMsPerRequest(rankers[side].app, bodies, REQUESTS, round * REQUESTS));
      }
    }
    const ratios = samples.this.map((value, index) => value / (samples.base[index] as number));
    // Both rankers share one heap, so a round also pays for collecting the other side's garbage.
    // On a 2-core virtual machine, the side that ran second in a round measured about 0.2 ms
    // higher on a 1.5 ms feed (memory store, 200 candidates). The rounds are printed so that a
    // reader can compare the sides by position.
    process.stdout.write(`${STORE}, ${candidates} candidates, per round (base first in even rounds): base ${samples.base.map(formatMs).join(' ')}\n`);
    process.stdout.write(`${STORE}, ${candidates} candidates, per round: this ${samples.this.map(formatMs).join(' ')}\n`);
    process.stdout.write(
      `${STORE}, ${candidates} candidates: CPU ms per request median base ${median(samples.base).toFixed(2)}, this ${median(samples.this).toFixed(2)}; ` +
        `median per-round ratio this/base ${median(ratios).toFixed(3)}\n`,
    );
  }
} finally {
  await rankers.base.close();
  await rankers.this.close();
}
