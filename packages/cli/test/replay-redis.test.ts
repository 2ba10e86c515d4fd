import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, type RedisServer } from '@nexttap/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReplayCommand } from '../src/replay-command';

async function run(args: string[]) {
  const output = { stdout: '', stderr: '' };
  const io = {
    stdout: { write: (text: string) => (output.stdout += text) },
    stderr: { write: (text: string) => (output.stderr += text), isTTY: false },
    environment: {},
  };
  const code = await runReplayCommand(args, io);
  return { code, ...output };
}

/** Returns a loopback port that was free a moment ago: opened, then closed, so nothing listens on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') {
    throw new Error('the test server has no TCP port');
  }
  return address.port;
}

let directory: string;
let eventsFile: string;
let catalogFile: string;
let server: RedisServer;

beforeAll(async () => {
  server = await startRedisServer();
  directory = await mkdtemp(join(tmpdir(), 'nexttap-replay-redis-'));
  const start = Date.UTC(2024, 0, 1);
  const lines = [
    { eventId: 'e1', type: 'like', ts: start, sessionId: 'a', itemId: 'A' },
    { eventId: 'e2', type: 'like', ts: start + 1_000, sessionId: 'b', itemId: 'A' },
    { eventId: 'e3', type: 'skip', ts: start + 2_000, sessionId: 'c', itemId: 'C' },
    { eventId: 'e4', type: 'like', ts: start + 3_000, sessionId: 'c', itemId: 'A' },
  ];
  eventsFile = join(directory, 'events.jsonl');
  await writeFile(eventsFile, lines.map((line) => JSON.stringify(line)).join('\n'));
  catalogFile = join(directory, 'catalog.jsonl');
  await writeFile(catalogFile, ['A', 'B', 'C'].map((itemId) => JSON.stringify({ itemId, categories: ['x'], publishedAt: '2023-01-01T00:00:00Z' })).join('\n'));
});

afterAll(async () => {
  await server?.stop();
});

describe('nexttap replay --redis-url', () => {
  const common = () => ['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--pool-refresh-events', '1'];

  it('records the store and warns once', async () => {
    const memoryOut = join(directory, 'memory');
    const redisOut = join(directory, 'redis');
    const memory = await run([...common(), '--out', memoryOut]);
    const redis = await run([...common(), '--redis-url', server.url, '--out', redisOut]);
    expect(memory.code).toBe(0);
    expect(redis.code).toBe(0);
    expect(memory.stderr).not.toContain("Redis's clock");
    const warnings = redis.stderr.split('\n').filter((line) => line.includes("keys expire on Redis's clock, not the replay's"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('results differ from an in-memory replay of the same log');
    const memoryReport = JSON.parse(await readFile(join(memoryOut, 'report.json'), 'utf8'));
    const redisReport = JSON.parse(await readFile(join(redisOut, 'report.json'), 'utf8'));
    expect(memoryReport.settings.store).toBe('memory');
    expect(redisReport.settings.store).toBe('redis');
  });

  it('warns when compared reports used different stores', async () => {
    const memoryReport = join(directory, 'memory', 'report.json');
    const redisReport = join(directory, 'redis', 'report.json');
    const result = await run(['--compare', memoryReport, redisReport, '--bootstrap', '100']);
    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('the reports ran on different stores (A memory, B redis)');
    const same = await run(['--compare', memoryReport, memoryReport, '--bootstrap', '100']);
    expect(same.stderr).toBe('');
  });

  it('names a Redis that refuses connections in one line', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}/0`;
    const result = await run([...common(), '--redis-url', url, '--out', join(directory, 'refused')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap replay: --redis-url ${url}: connecting failed (ECONNREFUSED); start Redis there or fix the URL\n`);
    expect(result.stdout).toBe('');
  });
});
