/**
 * Measures the young-generation collections (scavenges) of `POST /v1/feed` over HTTP. After 1,500
 * warm-up feeds it sends `REQUESTS` feeds one at a time over one keep-alive connection. It prints
 * the CPU per request, the number of scavenges, the bytes they promoted to old space and their
 * mean pause. It runs itself again under `node --trace-gc-nvp`, which prints one line per
 * collection, and sums the lines of the measured requests. Requests go over a socket because
 * fastify's `inject` keeps objects alive long enough to be promoted (5 MB per scavenge on a bare
 * route, against nothing over HTTP).
 *
 * Run: `npx tsx bench/feed-gc.ts`. `STORE` (redis or memory, default redis), `CANDIDATES`
 * (default 200) and `REQUESTS` (default 3,000) override the defaults.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startServer } from '@nexttap/cli';
import { readMovieLensCatalog } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { startRedisServer } from '@nexttap/testkit';
import { requestBodies } from './feed-rules-latency';
import { benchRankerConfig, MOVIELENS_DIR } from './ranker-config';

const STORE = process.env.STORE ?? 'redis';
const CANDIDATES = Number(process.env.CANDIDATES ?? 200);
const REQUESTS = Number(process.env.REQUESTS ?? 3_000);
const WARM_UP_REQUESTS = 1_500;
const START_MARK = 'feed-gc: measuring';
const END_MARK = 'feed-gc: done';

/** Sends one feed request and resolves when its response has ended. */
function postFeed(agent: http.Agent, url: URL, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, path: '/v1/feed', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`/v1/feed replied ${response.statusCode}`));
      }
      response.resume();
      response.on('end', () => resolve());
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Runs the load in this process, which the parent started with `--trace-gc-nvp`. */
async function measure(): Promise<void> {
  const itemIds = (await readMovieLensCatalog(MOVIELENS_DIR)).map((item) => item.itemId);
  const redis = STORE === 'redis' ? await startRedisServer() : undefined;
  const config = benchRankerConfig(redis?.url, { FEED_STORE_BUDGET_MS: '1000' });
  const server = await startServer('ranker', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const url = new URL(server.url);
    const bodies = requestBodies(itemIds, CANDIDATES);
    for (let index = 0; index < WARM_UP_REQUESTS; index++) {
      await postFeed(agent, url, bodies[index % bodies.length] as string);
    }
    process.stdout.write(`${START_MARK}\n`);
    const started = process.cpuUsage();
    for (let index = 0; index < REQUESTS; index++) {
      await postFeed(agent, url, bodies[index % bodies.length] as string);
    }
    const used = process.cpuUsage(started);
    process.stdout.write(`${END_MARK} ${((used.user + used.system) / 1_000 / REQUESTS).toFixed(3)}\n`);
  } finally {
    agent.destroy();
    await server.close();
    await redis?.stop();
  }
}

/** Starts this script under `--trace-gc-nvp` and sums the scavenge lines of the measured requests. */
function report(): void {
  const output = execFileSync(process.execPath, ['--trace-gc-nvp', '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, FEED_GC_CHILD: '1' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const lines = output.split('\n');
  const start = lines.indexOf(START_MARK);
  const end = lines.findIndex((line) => line.startsWith(END_MARK));
  if (start < 0 || end < 0) {
    throw new Error('the measuring process printed no start or end mark; run it with FEED_GC_CHILD=1 to see its output');
  }
  // Worker threads log with their own isolate address, and the server's is the first one printed.
  const isolate = /^\[\d+:0x[0-9a-f]+\]/.exec(lines.find((line) => line.includes('gc=')) ?? '')?.[0];
  let scavenges = 0;
  let promotedBytes = 0;
  let pauseMs = 0;
  for (const line of lines.slice(start, end)) {
    if (isolate !== undefined && line.startsWith(isolate) && line.includes(' gc=s ')) {
      scavenges += 1;
      promotedBytes += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
      pauseMs += Number(/ pause=([\d.]+)/.exec(line)?.[1] ?? 0);
    }
  }
  const cpuMsPerRequest = (lines[end] as string).slice(END_MARK.length).trim();
  process.stdout.write(
    `${STORE}, ${CANDIDATES} candidates, ${REQUESTS} requests one at a time: CPU ms per request ${cpuMsPerRequest}, ` +
      `${scavenges} scavenges, promoted MB per scavenge ${(promotedBytes / Math.max(1, scavenges) / 1e6).toFixed(3)}, ` +
      `mean pause ms ${(pauseMs / Math.max(1, scavenges)).toFixed(2)}\n`,
  );
}

if (STORE !== 'redis' && STORE !== 'memory') {
  throw new Error(`STORE is ${STORE}; set it to redis or memory`);
}
if (process.env.FEED_GC_CHILD === '1') {
  await measure();
} else {
  report();
}
