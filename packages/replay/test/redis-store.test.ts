import { RedisFeatureStore } from '@nexttap/store';
import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReplay } from '../src/index';
import { event, item, jsonlInput, T0 } from './fixtures';

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url);
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

/** Builds a short log: three sessions like A, two like B, then four sessions each skip C and like one item. */
function shortLog() {
  const catalog = [item('A', ['x']), item('B', ['x', 'y']), item('C', ['y']), item('D', ['z'])];
  const events = [
    ...['w1', 'w2', 'w3'].map((sessionId, index) => event('like', sessionId, 'A', index)),
    event('like', 'w1', 'B', 5),
    event('like', 'w2', 'B', 6),
    ...['p1', 'p2', 'p3', 'p4'].flatMap((sessionId, index) => [
      event('skip', sessionId, 'C', 100 + 10 * index),
      event('like', sessionId, ['A', 'B', 'D', 'A'][index] as string, 101 + 10 * index),
    ]),
  ];
  return jsonlInput(events, catalog);
}

describe('replay on Redis', () => {
  it('names no store for a caller-built one', async () => {
    const options = { input: shortLog(), baselines: ['popular'] as const, bootstrapResamples: 50, cutoffMs: T0 + 50_000 };
    const redis = await runReplay({ ...options, createStore: () => new RedisFeatureStore(client, { keyPrefix: `${uniqueName('replay')}:` }) });
    expect(redis.report.settings.store).toBeUndefined();
  });

  it('gives the same report as on memory', async () => {
    const input = shortLog();
    const options = { input, baselines: ['popular', 'covisit', 'random'] as const, poolRefreshEvents: 1, bootstrapResamples: 50, cutoffMs: T0 + 50_000 };
    const memory = await runReplay(options);
    const redis = await runReplay({ ...options, createStore: () => new RedisFeatureStore(client, { keyPrefix: `${uniqueName('replay')}:` }), storeKind: 'redis' });
    expect(memory.report.counts.evaluationPoints).toBe(4);
    expect(memory.report.settings.store).toBe('memory');
    expect(redis.report.settings.store).toBe('redis');
    const withMemoryStore = { ...redis.report, settings: { ...redis.report.settings, store: 'memory' } };
    expect(JSON.stringify(withMemoryStore)).toBe(JSON.stringify(memory.report));
  });
});
