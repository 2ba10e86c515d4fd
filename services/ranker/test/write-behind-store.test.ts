import type { PlannedWrite } from '@nexttap/features';
import { MemoryFeatureStore } from '@nexttap/store';
import { describe, expect, it, vi } from 'vitest';
import { WriteBehindStore } from '../src/write-behind-store';

function setField(key: string, value: string): PlannedWrite {
  return { operations: [{ op: 'hashSet', key, field: 'value', value }] };
}

describe('WriteBehindStore', () => {
  it('sends the writes queued in one turn in one apply call', async () => {
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
    const apply = vi.spyOn(store, 'apply');
    const writeBehind = new WriteBehindStore(store);
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
});
