import { EventEmitter } from 'node:events';
import { startRedisServer, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClients, logConnectionErrors, parseServerConfig } from '../src/index';
import { capturingLogger } from './capturing-logger';

afterEach(() => {
  vi.useRealTimers();
});

describe('logConnectionErrors', () => {
  it('logs one error per 10 s and counts the rest', () => {
    vi.useFakeTimers({ now: 0 });
    const { logger, lines } = capturingLogger('connection-errors-test');
    // The listener only subscribes to the client's events, which an EventEmitter emits the same way.
    const client = new EventEmitter();
    logConnectionErrors(client as unknown as Redis, 'ranker-store', logger);

    for (let attempt = 0; attempt < 40; attempt++) {
      client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6390'));
      vi.advanceTimersByTime(250);
    }
    client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6390'));

    const errors = lines.filter((line) => line.msg === 'redis connection error');
    expect(errors).toHaveLength(2);
    expect(errors[0]?.suppressedErrors).toBe(0);
    expect(errors[1]?.suppressedErrors).toBe(39);
  });

  it('logs the recovery after errors only', () => {
    const { logger, lines } = capturingLogger('connection-errors-test');
    const client = new EventEmitter();
    logConnectionErrors(client as unknown as Redis, 'ingest-store', logger);

    client.emit('ready');
    client.emit('error', new Error('read ECONNRESET'));
    client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6390'));
    client.emit('ready');

    expect(lines.map((line) => line.msg)).toEqual(['redis connection error', 'redis connection restored']);
    expect(lines[1]).toMatchObject({ client: 'ingest-store', suppressedErrors: 1 });
  });
});

describe('createClients connection labels', () => {
  let redis: RedisServer | undefined;

  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });

  /**
   * Starts the clients of `role` on a private Redis, breaks their connections until an error line
   * names `awaitedLabel`, and returns the labels of the error lines.
   */
  async function labelsOfFailingConnections(role: 'ingest' | 'all', awaitedLabel: string): Promise<string[]> {
    redis = await startRedisServer();
    const { logger, lines } = capturingLogger('connection-errors-test');
    const config = parseServerConfig({ REDIS_URL: redis.url, SEED_DATASET: 'none' });
    const clients = await createClients(config, logger, undefined, role);
    const admin = new Redis(redis.url);
    try {
      // A password set now makes every reconnect fail with NOAUTH until it is removed again.
      await admin.config('SET', 'requirepass', 'connection-labels');
      await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await expect
        .poll(() => lines.filter((line) => line.msg === 'redis connection error').map((line) => line.client), { timeout: 10_000 })
        .toContain(awaitedLabel);
      await admin.config('SET', 'requirepass', '');
    } finally {
      admin.disconnect();
    }
    await clients.close();
    return lines.filter((line) => line.msg === 'redis connection error').map((line) => String(line.client));
  }

  it('names the ingest store in an ingest process', async () => {
    const labels = await labelsOfFailingConnections('ingest', 'ingest-store');
    expect(labels).toContain('ingest-store');
    expect(labels).not.toContain('ranker-store');
    expect(labels).not.toContain('ranker');
  });

  it('names the ranker store in an all-roles process', async () => {
    const labels = await labelsOfFailingConnections('all', 'ranker-store');
    expect(labels).toContain('ingest-store');
    expect(labels).not.toContain('ranker');
  });
});
