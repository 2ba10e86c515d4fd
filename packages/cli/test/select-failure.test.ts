import { startRedisServer, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reconnectWhenSelectFails } from '../src/index';

let redis: RedisServer;
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});

afterEach(() => {
  for (const client of clients.splice(0)) {
    client.disconnect();
  }
});

afterAll(async () => {
  await redis.stop();
});

/** Returns a client of `url` that appends the message of each error to `events`, closed after the test. */
function trackedClient(url: string, events: string[]): Redis {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 20 });
  client.on('error', (error: Error) => events.push(error.message));
  clients.push(client);
  return client;
}

describe('reconnectWhenSelectFails', () => {
  it('keeps writes out of database 0 when SELECT fails', async () => {
    const events: string[] = [];
    const client = trackedClient(`${redis.url}/99`, events);
    reconnectWhenSelectFails(client);

    await client.connect().catch(() => undefined);
    const written = await client.set('select-failure:key', 'value').then(
      () => 'written',
      (error: Error) => error.message,
    );

    expect(written).not.toBe('written');
    const observer = new Redis(redis.url);
    clients.push(observer);
    expect(await observer.dbsize()).toBe(0);
    // The client keeps reconnecting, and each connection's SELECT fails again.
    await expect.poll(() => events.filter((message) => message.includes('DB index is out of range')).length).toBeGreaterThanOrEqual(2);
  });

  it('leaves a client of an existing database alone', async () => {
    const events: string[] = [];
    const client = trackedClient(`${redis.url}/3`, events);
    reconnectWhenSelectFails(client);

    await client.connect();
    await client.set('select-failure:key', 'value');

    const observer = new Redis(`${redis.url}/3`);
    clients.push(observer);
    expect(await observer.get('select-failure:key')).toBe('value');
    expect(events).toEqual([]);
  });
});
