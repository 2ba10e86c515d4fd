import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runPacedLoad } from '../bench/paced-load';

/** Delay of every reply of the test server, in ms. */
const REPLY_DELAY_MS = 20;

let server: Server | undefined;

/** Starts a loopback server that replies after `REPLY_DELAY_MS` with 200, or 503 to a body of `fail`. */
async function startServer(): Promise<string> {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      setTimeout(() => {
        response.statusCode = body === 'fail' ? 503 : 200;
        response.end('{}');
      }, REPLY_DELAY_MS);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('runPacedLoad', () => {
  it('sends every scheduled request', async () => {
    const url = await startServer();
    const result = await runPacedLoad({ url, path: '/', bodies: ['ok'], rate: 200, durationSeconds: 1 });
    expect(result.scheduled).toBe(200);
    expect(result.completed).toBe(200);
    expect(result.errors).toBe(0);
  });

  it('reports the CPU time of the load generator', async () => {
    const url = await startServer();
    const result = await runPacedLoad({ url, path: '/', bodies: ['ok'], rate: 200, durationSeconds: 1 });
    // Linux reports a thread's CPU time in /proc; elsewhere the figure is left out.
    if (process.platform === 'linux') {
      expect(result.generatorCpuMsPerRequest).toBeGreaterThanOrEqual(0);
    } else {
      expect(result.generatorCpuMsPerRequest).toBeUndefined();
    }
  });

  it('counts latency that includes the reply delay', async () => {
    const url = await startServer();
    const result = await runPacedLoad({ url, path: '/', bodies: ['ok'], rate: 100, durationSeconds: 1 });
    expect(result.p50Ms).toBeGreaterThanOrEqual(REPLY_DELAY_MS);
    expect(result.p99Ms).toBeGreaterThanOrEqual(result.p50Ms);
    expect(result.maxMs).toBeGreaterThanOrEqual(result.p99Ms);
  });

  it('counts replies other than 200 as errors', async () => {
    const url = await startServer();
    const result = await runPacedLoad({ url, path: '/', bodies: ['ok', 'fail'], rate: 100, durationSeconds: 1 });
    expect(result.errors).toBe(50);
    expect(result.completed).toBe(50);
  });

  it('counts the wait for a connection from the due time', async () => {
    const url = await startServer();
    // One connection serves at most 50 requests/s at 20 ms each, so 100 arrivals/s queue up and
    // the last ones wait about half a second beyond their due time.
    const result = await runPacedLoad({ url, path: '/', bodies: ['ok'], rate: 100, durationSeconds: 1, maxSockets: 1 });
    expect(result.completed).toBe(100);
    expect(result.maxMs).toBeGreaterThan(10 * REPLY_DELAY_MS);
    // Once a connection takes a request, it waits only for the reply.
    expect(result.p99FromSendMs).toBeLessThan(result.maxMs / 2);
  });
});
