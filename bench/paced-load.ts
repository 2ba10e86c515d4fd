import { Worker } from 'node:worker_threads';

/** Latency of an open-loop run at a fixed arrival rate, in ms. */
export interface PacedLoadResult {
  /** Requests scheduled over the run: rate × duration. */
  scheduled: number;
  completed: number;
  /** Requests that failed to connect or got a status other than 200. */
  errors: number;
  /** Completed requests per second, over the time from the first scheduled send to the last response. */
  achievedRate: number;
  /** From each request's scheduled send time to the end of its response: includes any wait to be sent. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** From the moment a connection took the request to the end of its response: without the wait for the due time or a free connection. */
  p99FromSendMs: number;
  /**
   * CPU time of the load generator's thread per completed request, in ms, from Linux's
   * `/proc/thread-self/stat`; undefined where that file cannot be read. The generator shares the
   * machine's cores with the server it loads, so this is CPU the server could not use.
   */
  generatorCpuMsPerRequest: number | undefined;
}

export interface PacedLoadOptions {
  url: string;
  path: string;
  bodies: readonly string[];
  /** Arrivals per second, spaced evenly. */
  rate: number;
  durationSeconds: number;
  /** Keep-alive connections at most; a request waits for a free one when all are busy. */
  maxSockets?: number;
  /** Core the load generator's thread is pinned to with `taskset`; unset leaves it where the system puts it. */
  cpu?: number | undefined;
}

/**
 * Worker code, plain JavaScript so that it needs no TypeScript loader in the worker thread.
 * Request i is due at `start + i / rate`. A timer sends every request that is due, so requests
 * leave evenly spaced whatever the server does (an open loop). Each latency counts from the due
 * time, so a server that falls behind shows its queue in the figures instead of slowing the sender.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const http = require('node:http');

// Returns this thread's user plus system CPU time in clock ticks (fields 14 and 15 of
// /proc/thread-self/stat, after the command name in parentheses), or undefined off Linux.
function threadCpuTicks() {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

const { url, path, bodies, rate, durationSeconds, maxSockets, cpu } = workerData;
if (cpu !== undefined) {
  // /proc/thread-self links to PID/task/TID; taskset -p on a thread id pins that thread only.
  const threadId = require('node:fs').readlinkSync('/proc/thread-self').split('/').pop();
  require('node:child_process').execFileSync('taskset', ['-p', '-c', String(cpu), threadId], { stdio: 'ignore' });
}
const startTicks = threadCpuTicks();
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets });
const intervalMs = 1000 / rate;
const scheduled = Math.round(rate * durationSeconds);
const fromDue = [];
const fromSend = [];
let sent = 0;
let finished = 0;
let errors = 0;
let lastEnd = 0;
const start = performance.now() + 100;

function finish() {
  finished += 1;
  if (finished === scheduled) {
    agent.destroy();
    const endTicks = threadCpuTicks();
    const cpuTicks = startTicks === undefined || endTicks === undefined ? undefined : endTicks - startTicks;
    parentPort.postMessage({ scheduled, errors, fromDue, fromSend, elapsedMs: lastEnd - start, cpuTicks });
  }
}

function send(index) {
  const due = start + index * intervalMs;
  const body = bodies[index % bodies.length];
  let sentAt = performance.now();
  const request = http.request(
    { agent, host: target.hostname, port: target.port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
    (response) => {
      response.resume();
      response.on('end', () => {
        const end = performance.now();
        lastEnd = Math.max(lastEnd, end);
        if (response.statusCode === 200) {
          fromDue.push(end - due);
          fromSend.push(end - sentAt);
        } else {
          errors += 1;
        }
        finish();
      });
    },
  );
  // The agent hands the request a socket once one is free; only then is it written.
  request.on('socket', () => {
    sentAt = performance.now();
  });
  request.on('error', () => {
    errors += 1;
    finish();
  });
  request.end(body);
}

function tick() {
  const now = performance.now();
  while (sent < scheduled && start + sent * intervalMs <= now) {
    send(sent);
    sent += 1;
  }
  if (sent < scheduled) {
    setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
  }
}

setTimeout(tick, Math.max(0, start - performance.now()));
`;

/**
 * Sends POST requests at a fixed arrival rate from a worker thread and returns their latency.
 * Unlike autocannon's `overallRate`, which lets each connection send back to back until it has
 * made its share of the current second and then waits for the next one, the requests here are
 * spaced evenly, as independent clients would send them.
 */
export async function runPacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { ...options, bodies: [...options.bodies], maxSockets: options.maxSockets ?? 64 },
  });
  const message = await new Promise<{ scheduled: number; errors: number; fromDue: number[]; fromSend: number[]; elapsedMs: number; cpuTicks: number | undefined }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`paced load worker exited with code ${code} before it reported`)));
  });
  await worker.terminate();
  const fromDue = Float64Array.from(message.fromDue).sort();
  const fromSend = Float64Array.from(message.fromSend).sort();
  return {
    scheduled: message.scheduled,
    completed: fromDue.length,
    errors: message.errors,
    achievedRate: message.elapsedMs > 0 ? Math.round((fromDue.length / message.elapsedMs) * 1000) : 0,
    p50Ms: round(percentile(fromDue, 0.5)),
    p99Ms: round(percentile(fromDue, 0.99)),
    maxMs: round(fromDue.length === 0 ? Number.NaN : (fromDue[fromDue.length - 1] as number)),
    p99FromSendMs: round(percentile(fromSend, 0.99)),
    generatorCpuMsPerRequest:
      message.cpuTicks === undefined || fromDue.length === 0 ? undefined : Math.round(((message.cpuTicks * MS_PER_CLOCK_TICK) / fromDue.length) * 1000) / 1000,
  };
}

/**
 * Length of a clock tick of /proc/thread-self/stat, in ms. Linux reports CPU time in units of
 * USER_HZ, 100 per second on x86-64 (`getconf CLK_TCK` prints it).
 */
const MS_PER_CLOCK_TICK = 10;

/** Returns the nearest-rank percentile of sorted values, or NaN when there are none. */
function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[rank - 1] as number;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
