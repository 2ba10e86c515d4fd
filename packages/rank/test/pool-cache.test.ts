import { validateCatalogItem, validateInteraction, type CatalogItem, type Interaction } from '@nexttap/events';
import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { MemoryFeatureStore } from '@nexttap/store';
import { describe, expect, it } from 'vitest';
import { PoolCache } from '../src/index';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');

function catalogItem(itemId: string): CatalogItem {
  const result = validateCatalogItem({ itemId, categories: ['Drama'], publishedAt: NOW_MS - 3_600_000 });
  if (!result.ok) throw new Error(result.rejection.message);
  return result.value;
}

function like(eventId: string, itemId: string): Interaction {
  const result = validateInteraction({ eventId, type: 'like', ts: NOW_MS - 1_000, sessionId: `session-${eventId}`, itemId }, { nowMs: NOW_MS });
  if (!result.ok) throw new Error(result.rejection.message);
  return result.value;
}

describe('PoolCache', () => {
  it('proposes only items with a catalog record', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await applyCatalogItems(store, [catalogItem('known')]);
    await applyInteractions(store, [like('e1', 'known'), like('e2', 'made-up'), like('e3', 'made-up')]);
    const pools = new PoolCache(store);

    const before = await pools.refresh(NOW_MS);
    expect(before.popular).toEqual(['known']);
    expect(before.trending).toEqual(['known']);

    await applyCatalogItems(store, [catalogItem('made-up')]);
    const after = await pools.refresh(NOW_MS);
    expect(after.popular).toEqual(['made-up', 'known']);
    expect(after.byCategory.get('Drama')).toContain('made-up');
    await store.close();
  });
});
