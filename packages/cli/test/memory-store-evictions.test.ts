import { createMetricsRegistry } from '@nexttap/observability';
import { MemoryFeatureStore } from '@nexttap/store';
import { describe, expect, it } from 'vitest';
import { reportMemoryStoreEvictions } from '../src/index';
import { capturingLogger } from './capturing-logger';

function feedRecord(index: number) {
  const key = `s:{session-${index}}:feed:feed-${index}`;
  return { operations: [{ op: 'hashSet' as const, key, field: 'rankingColumns', value: 'r'.repeat(4_000) }] };
}

describe('reportMemoryStoreEvictions', () => {
  it('counts evicted keys and warns once', async () => {
    const { logger, lines } = capturingLogger('memory-store-evictions-test');
    const metrics = createMetricsRegistry();
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0, maxBytes: 20_000, onEviction: reportMemoryStoreEvictions(logger, metrics) });
    for (let index = 0; index < 10; index++) {
      await store.apply([feedRecord(index)]);
    }
    const counter = (await metrics.getMetricsAsJSON()).find((metric) => metric.name === 'nexttap_memory_store_evicted_keys_total');
    const evictedKeys = counter?.values[0]?.value ?? 0;
    expect(evictedKeys).toBe(10 - store.size);
    expect(evictedKeys).toBeGreaterThan(3);
    const warnings = lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ msg: 'memory store reached MEMORY_STORE_MAX_MB and started evicting keys', maxBytes: 20_000, evictedKeys: 1 });
  });

  it('warns once when only unevictable keys remain', async () => {
    const { logger, lines } = capturingLogger('memory-store-evictions-test');
    const store = new MemoryFeatureStore({ sweepIntervalMs: 0, maxBytes: 1_000, onEviction: reportMemoryStoreEvictions(logger, undefined) });
    for (let index = 0; index < 3; index++) {
      await store.apply([{ operations: [{ op: 'hashSet', key: `i:{item-${index}}:catalog`, field: 'title', value: 't'.repeat(1_000) }] }]);
    }
    expect(store.size).toBe(3);
    expect(lines.map((line) => line.msg)).toEqual(['memory store is over MEMORY_STORE_MAX_MB with only items and pools left; raise MEMORY_STORE_MAX_MB']);
  });
});
