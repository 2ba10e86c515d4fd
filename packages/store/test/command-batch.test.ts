import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CommandBatch, RedisFeatureStore } from '../src/index';

let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url, { lazyConnect: true });
  await client.connect();
});

afterAll(async () => {
  await client.quit();
  await server.stop();
});

describe('CommandBatch', () => {
  it('returns replies in queue order', async () => {
    const prefix = `${uniqueName('batch')}:`;
    const batch = new CommandBatch(client);
    batch.hset(`${prefix}hash`, 'a', '1', 'b', '2');
    batch.lpush(`${prefix}list`, 'x', 'y');
    batch.hgetall(`${prefix}hash`);
    batch.lrange(`${prefix}list`, 0, -1);
    batch.mget([`${prefix}missing`, `${prefix}hash-string`]);
    batch.zrevrange(`${prefix}zset`, 0, 1, 'WITHSCORES');

    const replies = await batch.exec();

    expect(replies).toEqual([
      [null, 2],
      [null, 2],
      [null, { a: '1', b: '2' }],
      [null, ['y', 'x']],
      [null, [null, null]],
      [null, []],
    ]);
  });

  it('returns Buffers from mgetBuffer', async () => {
    const key = `${uniqueName('batch')}:bytes`;
    await client.set(key, Buffer.from([0, 255, 7]));
    const batch = new CommandBatch(client);
    batch.mgetBuffer([key]);
    batch.mget([key]);

    const [[, buffers], [, strings]] = (await batch.exec()) as [[null, Buffer[]], [null, string[]]];

    expect(Buffer.isBuffer(buffers[0])).toBe(true);
    expect([...(buffers[0] as Buffer)]).toEqual([0, 255, 7]);
    expect(typeof strings[0]).toBe('string');
  });

  it('keeps a failed command in its entry', async () => {
    const key = `${uniqueName('batch')}:hash`;
    const batch = new CommandBatch(client);
    batch.hset(key, 'field', 'value');
    batch.lrange(key, 0, -1);
    batch.hgetall(key);

    const [written, wrongType, read] = await batch.exec();

    expect(written).toEqual([null, 1]);
    expect(wrongType?.[0]?.message).toMatch(/WRONGTYPE/);
    expect(read).toEqual([null, { field: 'value' }]);
  });

  it('sends a called method in queue order', async () => {
    const key = `${uniqueName('batch')}:counter`;
    const batch = new CommandBatch(client);
    batch.get(key);
    batch.call((redis) => redis.incrby(key, 5));
    batch.get(key);

    expect(await batch.exec()).toEqual([
      [null, null],
      [null, 5],
      [null, '5'],
    ]);
  });

  it('rejects each command before the connection is ready', async () => {
    const offline = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false });
    const batch = new CommandBatch(offline);
    batch.get('any');
    batch.hgetall('other');

    const replies = await batch.exec();

    expect(replies).toHaveLength(2);
    for (const [error] of replies) {
      expect(error?.message).toMatch(/enableOfflineQueue/);
    }
    offline.disconnect();
  });
});

describe('RedisFeatureStore commands', () => {
  // An ioredis pipeline gets a hidden class of its own in old space, which keeps its commands
  // and replies through young-generation collections, so the single-node store sends none.
  it('reads and writes without ioredis pipelines', async () => {
    const store = new RedisFeatureStore(client, { keyPrefix: `${uniqueName('nopipe')}:` });
    const pipeline = vi.spyOn(client, 'pipeline');
    try {
      const write = { operations: [{ op: 'hashSet' as const, key: 's:{1}:feed:f', field: 'model', value: 'm@1' }] };
      await store.apply([write]);
      await store.read([{ kind: 'hash', key: 's:{1}:feed:f' }]);
      const { applied, results } = store.applyAndRead([write], [{ kind: 'hash', key: 's:{1}:feed:f' }]);

      expect(await applied).toEqual([true]);
      expect(await results).toEqual([{ kind: 'hash', value: { model: 'm@1' } }]);
      expect(pipeline).not.toHaveBeenCalled();
    } finally {
      pipeline.mockRestore();
    }
  });
});
