import { validateCatalogItem, validateInteraction, type CatalogItem, type Interaction } from '@nexttap/events';
import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { MemoryFeatureStore } from '@nexttap/store';
import { describe, expect, it } from 'vitest';
import { loadRankingModel } from '@nexttap/model';
import { PoolCache, rankFeed, seededRandom } from '../src/index';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');

function catalogItem(itemId: string, categories: string[] = ['Drama']): CatalogItem {
  const result = validateCatalogItem({ itemId, categories, publishedAt: NOW_MS - 3_600_000 });
  if (!result.ok) throw new Error(result.rejection.message);
  return result.value;
}

const MODEL_DIR = new URL('../../../models/movielens-mlp/1', import.meta.url).pathname;

function like(eventId: string, itemId: string, sessionId = `session-${eventId}`, ts = NOW_MS - 1_000): Interaction {
  const result = validateInteraction({ eventId, type: 'like', ts, sessionId, itemId }, { nowMs: NOW_MS });
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

  it('ranks category pools by the popular pool', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await applyCatalogItems(store, [
      catalogItem('a', ['Drama']),
      catalogItem('b', ['Drama', 'Comedy']),
      catalogItem('c', ['Comedy']),
      catalogItem('d', ['Drama']),
      catalogItem('e', ['Drama']),
    ]);
    await applyInteractions(store, [like('e1', 'b'), like('e2', 'b'), like('e3', 'b'), like('e4', 'a'), like('e5', 'a'), like('e6', 'c')]);

    const deep = await new PoolCache(store, { poolDepth: 10 }).refresh(NOW_MS);
    const shallow = await new PoolCache(store, { poolDepth: 2 }).refresh(NOW_MS);

    // Engaged items by their popular score, then the others in ZREVRANGE order (score 0, id descending).
    expect(deep.byCategory.get('Drama')).toEqual(['b', 'a', 'e', 'd']);
    expect(deep.byCategory.get('Comedy')).toEqual(['b', 'c']);
    expect(shallow.byCategory.get('Drama')).toEqual(['b', 'a']);
    expect(shallow.popular).toEqual(['b', 'a']);
    await store.close();
  });

  it('fills a category past its engaged members', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await applyCatalogItems(store, ['a', 'b', 'c', 'x', 'y'].map((itemId) => catalogItem(itemId)));
    // The engaged items sort first among the category's members, so the member read must reach past them.
    await applyInteractions(store, [like('e1', 'y'), like('e2', 'x')]);

    const pools = await new PoolCache(store, { poolDepth: 3 }).refresh(NOW_MS);

    // x and y tie in the popular pool, which orders a tie by id descending, as ZREVRANGE does.
    expect(pools.byCategory.get('Drama')).toEqual(['y', 'x', 'c']);
    await store.close();
  });
  it('lets other work run during a long refresh', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    const itemIds = Array.from({ length: 2_500 }, (_, index) => `item-${index}`);
    await applyCatalogItems(store, itemIds.map((itemId) => catalogItem(itemId)));
    await applyInteractions(store, itemIds.map((itemId, index) => like(`e${index}`, itemId)));
    const pools = new PoolCache(store);
    await pools.refresh(NOW_MS);

    // The memory store replies within the same turn of the event loop, so an immediate callback
    // runs before the refresh ends only if the refresh yields.
    let turns = 0;
    let refreshing = true;
    const countTurn = () => {
      turns += 1;
      if (refreshing) {
        setImmediate(countTurn);
      }
    };
    setImmediate(countTurn);
    const snapshot = await pools.refresh(NOW_MS);
    refreshing = false;

    expect(turns).toBeGreaterThan(0);
    expect(snapshot.catalog.size).toBe(2_500);
    expect(snapshot.byCategory.get('Drama')).toHaveLength(200);
    await store.close();
  });

  it('parses a re-read catalog record only when it changed', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await applyCatalogItems(store, [catalogItem('a'), catalogItem('b')]);
    await applyInteractions(store, [like('e1', 'a'), like('e2', 'b')]);
    const pools = new PoolCache(store, { catalogRereadPerRefresh: 10 });

    const first = await pools.refresh(NOW_MS);
    const second = await pools.refresh(NOW_MS);
    expect(second.catalog.get('a')).toBe(first.catalog.get('a'));
    expect(second.catalog.get('b')).toBe(first.catalog.get('b'));

    await applyCatalogItems(store, [catalogItem('a', ['Comedy'])]);
    const third = await pools.refresh(NOW_MS);
    expect(third.catalog.get('a')?.categories).toEqual(['Comedy']);
    expect(third.catalog.get('b')).toBe(first.catalog.get('b'));
    expect(third.byCategory.get('Comedy')).toEqual(['a']);
    await store.close();
  });

  it('keeps young popular and category pools', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await applyCatalogItems(store, [catalogItem('a'), catalogItem('b', ['Comedy'])]);
    await applyInteractions(store, [like('e1', 'a')]);
    const pools = new PoolCache(store, { popularMaxAgeMs: 10_000 });
    const first = await pools.refresh(NOW_MS);
    expect(first.popular).toEqual(['a']);

    // 'b' gains engagement and 'c' appears with a record: the short pools and the records follow
    // at once, the popular and category pools at the next full refresh.
    await applyCatalogItems(store, [catalogItem('c', ['Comedy'])]);
    await applyInteractions(store, [like('e2', 'b'), like('e3', 'b'), like('e4', 'c')]);
    const short = await pools.refresh(NOW_MS + 9_999);
    expect(short.trending).toEqual(['b', 'c', 'a']);
    expect(short.catalog.get('c')?.categories).toEqual(['Comedy']);
    expect(short.popular).toBe(first.popular);
    expect(short.byCategory).toBe(first.byCategory);

    const full = await pools.refresh(NOW_MS + 10_000);
    expect(full.popular).toEqual(['b', 'c', 'a']);
    expect(full.byCategory.get('Comedy')).toEqual(['b', 'c']);
    await store.close();
  });

  it('refreshes fully when the clock goes back', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await applyCatalogItems(store, [catalogItem('a'), catalogItem('b')]);
    await applyInteractions(store, [like('e1', 'a')]);
    const pools = new PoolCache(store, { popularMaxAgeMs: 10_000 });
    await pools.refresh(NOW_MS);
    await applyInteractions(store, [like('e2', 'b'), like('e3', 'b')]);
    expect((await pools.refresh(NOW_MS - 1)).popular).toEqual(['b', 'a']);
    await store.close();
  });

  it('re-reads records in a short-pool refresh', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await applyCatalogItems(store, [{ ...catalogItem('stream'), live: true }]);
    await applyInteractions(store, [like('e1', 'stream')]);
    const pools = new PoolCache(store, { popularMaxAgeMs: 60_000 });
    const first = await pools.refresh(NOW_MS);
    expect(first.live).toEqual(['stream']);

    const unchanged = await pools.refresh(NOW_MS + 1_000);
    expect(unchanged.catalog).toBe(first.catalog);

    await applyCatalogItems(store, [{ ...catalogItem('stream'), live: false }]);
    const ended = await pools.refresh(NOW_MS + 2_000);
    expect(ended.live).toEqual([]);
    expect(ended.catalog.get('stream')?.live).toBe(false);
    expect(first.catalog.get('stream')?.live).toBe(true);
    await store.close();
  });
});

describe('rankFeed', () => {
  it('drops co-visited items without a catalog record', async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await applyCatalogItems(store, [catalogItem('known'), catalogItem('other')]);
    // One session likes a cataloged item, then a made-up one and a cataloged one: both become
    // co-visitation neighbours of the first.
    await applyInteractions(store, [
      like('e1', 'known', 'crowd', NOW_MS - 5_000),
      like('e2', 'made-up', 'crowd', NOW_MS - 4_000),
      like('e3', 'other', 'crowd', NOW_MS - 3_000),
      like('e4', 'known', 'viewer', NOW_MS - 2_000),
    ]);
    const pools = new PoolCache(store);
    await pools.refresh(NOW_MS);
    const model = await loadRankingModel(MODEL_DIR);
    try {
      const feed = await rankFeed({ sessionId: 'viewer', limit: 10, dropServed: false }, { store, model, pools: pools.current, nowMs: NOW_MS, random: seededRandom(1) });
      const requested = await rankFeed(
        { sessionId: 'viewer', limit: 10, candidates: ['made-up', 'other'] },
        { store, model, pools: pools.current, nowMs: NOW_MS, random: seededRandom(1) },
      );

      expect(feed.items.map((item) => item.itemId)).toContain('other');
      expect(feed.items.map((item) => item.itemId)).not.toContain('made-up');
      expect(requested.items.find((item) => item.itemId === 'made-up')?.known).toBe(false);
    } finally {
      await model.release();
      await store.close();
    }
  });
});
