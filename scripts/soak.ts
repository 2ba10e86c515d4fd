/**
 * Soak run: starts `nexttap serve --role all` in a child process on a private Redis and a mock
 * Kafka cluster, both on loopback, seeds MovieLens, and sends a steady rate of feed requests and
 * event batches for a fixed time. Every interval it records the server's resident memory and heap
 * from its /metrics, and the p50 and p99 latency of that interval's replies. At the end it prints
 * a Markdown table and writes the samples as JSON under reports/soak/.
 *
 *   npx tsx scripts/soak.ts [--duration-s 600] [--interval-s 60] [--feeds-per-s 100] [--events-per-s 500]
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startMockKafka, startRedisServer } from '@nexttap/testkit';

const REPOSITORY_ROOT = new URL('..', import.meta.url).pathname;
const EVENTS_PER_REQUEST = 50;
/** Requests allowed in flight; a request due while this many are open is counted as skipped, so the rates stay open-loop. */
const MAX_IN_FLIGHT = 256;
const SESSIONS = 5_000;
/** MovieLens item ids used by the events; the bundled catalog has ids from 1 to 193,609, densest at the low end. */
const ITEM_IDS = 2_000;

interface IntervalSample {
  elapsedS: number;
  residentMiB: number;
  heapUsedMiB: number;
  feeds: number;
  feedP50Ms: number;
  feedP99Ms: number;
  eventRequests: number;
  eventP99Ms: number;
  errors: number;
  skipped: number;
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) {
    return 0;
  }
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
}

function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

/** Starts the server and resolves with its URL once it logged `server ready`. */
async function startServe(environment: Record<string, string>): Promise<{ url: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, ['packages/cli/bin/nexttap.js', 'serve', '--role', 'all'], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, ...environment },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const findReadyLine = (chunk: string) => {
      output += chunk;
      const lines = output.split('\n');
      // The last piece may be a line still being written; keep it for the next chunk.
      output = lines.pop() ?? '';
      const ready = lines.find((line) => line.includes('"msg":"server ready"'));
      if (ready !== undefined) {
        child.stdout.off('data', findReadyLine);
        // Keep reading, so the child never blocks on a full pipe.
        child.stdout.resume();
        resolve((JSON.parse(ready) as { url: string }).url);
      }
    };
    child.stdout.setEncoding('utf8').on('data', findReadyLine);
    void exited.then((code) => reject(new Error(`nexttap serve exited with ${code} before it was ready`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'duration-s': { type: 'string', default: '600' },
      'interval-s': { type: 'string', default: '60' },
      'feeds-per-s': { type: 'string', default: '100' },
      'events-per-s': { type: 'string', default: '500' },
    },
  });
  const durationS = Number(values['duration-s']);
  const intervalS = Number(values['interval-s']);
  const feedsPerS = Number(values['feeds-per-s']);
  const eventRequestsPerS = Number(values['events-per-s']) / EVENTS_PER_REQUEST;

  const redis = await startRedisServer();
  const kafka = await startMockKafka({
    topics: [
      { name: 'soak.interactions', partitions: 6 },
      { name: 'soak.catalog', partitions: 1 },
      { name: 'soak.interactions.dlq', partitions: 1 },
    ],
  });
  const server = await startServe({
    PORT: '0',
    // `server ready`, which carries the URL, is an info line.
    LOG_LEVEL: 'info',
    KAFKA_BROKERS: kafka.brokers.join(','),
    REDIS_URL: redis.url,
    TOPIC_PREFIX: 'soak',
    SEED_DATASET: 'movielens',
  });
  process.stderr.write(`soak: server ready at ${server.url}; ${durationS} s at ${feedsPerS} feeds/s and ${values['events-per-s']} events/s\n`);

  let inFlight = 0;
  let eventCounter = 0;
  let current = { feedLatencies: [] as number[], eventLatencies: [] as number[], errors: 0, skipped: 0 };
  const send = (path: string, body: unknown, latencies: number[]) => {
    if (inFlight >= MAX_IN_FLIGHT) {
      current.skipped += 1;
      return;
    }
    inFlight += 1;
    const interval = current;
    const startedMs = performance.now();
    void fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(async (response) => {
        await response.arrayBuffer();
        if (response.status >= 300) {
          interval.errors += 1;
        }
        latencies.push(performance.now() - startedMs);
      })
      .catch(() => (interval.errors += 1))
      .finally(() => (inFlight -= 1));
  };

  const samples: IntervalSample[] = [];
  const startedMs = Date.now();
  let nextSampleMs = startedMs + intervalS * 1_000;
  let feedsDue = 0;
  let eventRequestsDue = 0;
  let lastTickMs = startedMs;
  while (Date.now() - startedMs < durationS * 1_000) {
    await sleep(10);
    const nowMs = Date.now();
    const elapsedTickS = (nowMs - lastTickMs) / 1_000;
    lastTickMs = nowMs;
    feedsDue += feedsPerS * elapsedTickS;
    eventRequestsDue += eventRequestsPerS * elapsedTickS;
    for (; feedsDue >= 1; feedsDue -= 1) {
      send('/v1/feed', { sessionId: `soak-${Math.floor(Math.random() * SESSIONS)}`, limit: 20 }, current.feedLatencies);
    }
    for (; eventRequestsDue >= 1; eventRequestsDue -= 1) {
      const events = Array.from({ length: EVENTS_PER_REQUEST }, () => ({
        eventId: `soak-event-${eventCounter++}`,
        type: Math.random() < 0.7 ? 'impression' : 'tap',
        ts: nowMs,
        sessionId: `soak-${Math.floor(Math.random() * SESSIONS)}`,
        itemId: String(1 + Math.floor(Math.random() * ITEM_IDS)),
      }));
      send('/v1/events', { events }, current.eventLatencies);
    }
    if (nowMs >= nextSampleMs) {
      nextSampleMs += intervalS * 1_000;
      const interval = current;
      current = { feedLatencies: [], eventLatencies: [], errors: 0, skipped: 0 };
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const feeds = [...interval.feedLatencies].sort((left, right) => left - right);
      const eventLatencies = [...interval.eventLatencies].sort((left, right) => left - right);
      const sample: IntervalSample = {
        elapsedS: Math.round((nowMs - startedMs) / 1_000),
        residentMiB: metricValue(metrics, 'nexttap_process_resident_memory_bytes') / 1_048_576,
        heapUsedMiB: metricValue(metrics, 'nexttap_nodejs_heap_size_used_bytes') / 1_048_576,
        feeds: feeds.length,
        feedP50Ms: percentile(feeds, 0.5),
        feedP99Ms: percentile(feeds, 0.99),
        eventRequests: eventLatencies.length,
        eventP99Ms: percentile(eventLatencies, 0.99),
        errors: interval.errors,
        skipped: interval.skipped,
      };
      samples.push(sample);
      process.stderr.write(`soak: ${JSON.stringify(sample)}\n`);
    }
  }

  while (inFlight > 0) {
    await sleep(10);
  }
  const exitCode = await server.stop();
  await Promise.all([kafka.stop(), redis.stop()]);

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 1_073_741_824)} GiB, Node.js ${process.version}`;
  const rows = samples.map(
    (sample) =>
      `| ${sample.elapsedS} | ${sample.residentMiB.toFixed(0)} | ${sample.heapUsedMiB.toFixed(0)} | ${sample.feeds} | ${sample.feedP50Ms.toFixed(1)} | ` +
      `${sample.feedP99Ms.toFixed(1)} | ${sample.eventRequests} | ${sample.eventP99Ms.toFixed(1)} | ${sample.errors} | ${sample.skipped} |`,
  );
  const table = [
    '| elapsed s | RSS MiB | heap MiB | feeds | feed p50 ms | feed p99 ms | event requests | event p99 ms | errors | skipped |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  process.stdout.write(`${machine}\nserver exit code after SIGTERM: ${exitCode}\n\n${table}\n`);
  await mkdir(`${REPOSITORY_ROOT}reports/soak`, { recursive: true });
  await writeFile(`${REPOSITORY_ROOT}reports/soak/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify({ machine, values, samples, exitCode }, null, 2));
}

await main();
