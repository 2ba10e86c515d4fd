import type { PlannedWrite } from '@nexttap/features';
import { MemoryFeatureStore, RedisFeatureStore } from '@nexttap/store';
import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WriteBehindStore } from '../src/write-behind-store';

function setField(key: string, value: string): PlannedWrite {
  return { operations: [{ op: 'hashSet', key, field: 'value', value }] };
}

describe('WriteBehindStore', () => {
  it('sends the writes queued in one turn in one apply call', async () => {
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    const apply = vi.spyOn(store, 'apply');
    const writeBehind = new WriteBehindStore(store, { flushDelayMs: 0 });
    const first = writeBehind.applyLater([setField('a', '1')]);
    const second = writeBehind.applyLater([setField('b', '2'), setField('c', '3')]);
    expect(apply).not.toHaveBeenCalled();
    await expect(first).resolves.toEqual([true]);
    await expect(second).resolves.toEqual([true, true]);
    expect(apply).toHaveBeenCalledTimes(1);
  });

  it('sends queued writes before a later read', async () => {
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    const writeBehind = new WriteBehindStore(store);
    void writeBehind.applyLater([setField('record', 'served')]);
    const [result] = await writeBehind.read([{ kind: 'hash', key: 'record' }]);
    expect(result).toEqual({ kind: 'hash', value: { value: 'served' } });
  });

  it('sends queued writes before a later apply', async () => {
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    const writeBehind = new WriteBehindStore(store);
    void writeBehind.applyLater([setField('order', 'queued')]);
    await writeBehind.apply([setField('order', 'direct')]);
    const [result] = await store.read([{ kind: 'hash', key: 'order' }]);
    expect(result).toEqual({ kind: 'hash', value: { value: 'direct' } });
  });

  it('rejects every queued caller when the apply call fails', async () => {
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    vi.spyOn(store, 'apply').mockRejectedValue(new Error('store down'));
    const writeBehind = new WriteBehindStore(store);
    const first = writeBehind.applyLater([setField('a', '1')]);
    const second = writeBehind.applyLater([setField('b', '2')]);
    await expect(first).rejects.toThrow('store down');
    await expect(second).rejects.toThrow('store down');
  });

  it('drains queued writes', async () => {
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    const writeBehind = new WriteBehindStore(store);
    void writeBehind.applyLater([setField('last', 'record')]);
    await writeBehind.drain();
    const [result] = await store.read([{ kind: 'hash', key: 'last' }]);
    expect(result).toEqual({ kind: 'hash', value: { value: 'record' } });
  });

  it('sends queued writes after the flush delay', async () => {
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    const apply = vi.spyOn(store, 'apply');
    const writeBehind = new WriteBehindStore(store, { flushDelayMs: 20 });
    const queued = writeBehind.applyLater([setField('delayed', '1')]);

    await new Promise((resolve) => setImmediate(resolve));
    expect(apply).not.toHaveBeenCalled();
    await expect(queued).resolves.toEqual([true]);
    expect(apply).toHaveBeenCalledTimes(1);
  });

  it('rejects a negative flush delay', () => {
    expect(() => new WriteBehindStore(new MemoryFeatureStore({ sweepIntervalMs: 0 }), { flushDelayMs: -1 })).toThrow('flushDelayMs is -1');
  });
});

describe('WriteBehindStore on Redis', () => {
  let redis: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url);
  });

  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('sends queued writes with the next read', async () => {
    const store = new RedisFeatureStore(client, { keyPrefix: `${uniqueName('write-behind')}:` });
    const apply = vi.spyOn(store, 'apply');
    const writeBehind = new WriteBehindStore(store, { flushDelayMs: 60_000 });
    const first = writeBehind.applyLater([setField('record', 'served')]);
    const second = writeBehind.applyLater([setField('other', 'served'), setField('third', 'served')]);

    const results = await writeBehind.read([
      { kind: 'hash', key: 'record' },
      { kind: 'hash', key: 'third' },
    ]);

    expect(results).toEqual([
      { kind: 'hash', value: { value: 'served' } },
      { kind: 'hash', value: { value: 'served' } },
    ]);
    await expect(first).resolves.toEqual([true]);
    await expect(second).resolves.toEqual([true, true]);
    expect(apply).not.toHaveBeenCalled();
  });

  it('rejects the queued writes and the read when Redis fails', async () => {
    const failing = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const writeBehind = new WriteBehindStore(new RedisFeatureStore(failing), { flushDelayMs: 60_000 });
    const queued = writeBehind.applyLater([setField('lost', 'record')]);

    const read = writeBehind.read([{ kind: 'hash', key: 'lost' }]);

    await expect(queued).rejects.toThrow();
    await expect(read).rejects.toThrow();
    failing.disconnect();
  });
});
