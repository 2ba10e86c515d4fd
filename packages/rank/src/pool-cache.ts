import type { CatalogItem } from '@nexttap/events';
import { FEATURE_SETTINGS, keys, type ReadRequest, type ReadResult } from '@nexttap/features';
import type { FeatureStore } from '@nexttap/store';

/** A ranked list of item ids from one candidate pool, best first. */
export type PoolList = readonly string[];

export interface PoolSnapshot {
  popular: PoolList;
  trending: PoolList;
  fresh: PoolList;
  /** Live items, newest first, without those whose cached catalog record no longer has `live: true`. */
  live: PoolList;
  byCategory: ReadonlyMap<string, PoolList>;
  /** Catalog records of the pooled items, for the degraded feed and for the live list. */
  catalog: ReadonlyMap<string, CatalogItem>;
  /** When the snapshot was read, in epoch ms. */
  readAtMs: number;
}

export interface PoolCacheOptions {
  /** Members read from each pool. Default 200. */
  poolDepth?: number;
  /**
   * Catalog records re-read per refresh among those already cached, so that an ended live stream
   * leaves the live list within (cached items / this) refreshes. Default 500.
   */
  catalogRereadPerRefresh?: number;
}

export const EMPTY_POOLS: PoolSnapshot = {
  popular: [],
  trending: [],
  fresh: [],
  live: [],
  byCategory: new Map(),
  catalog: new Map(),
  readAtMs: 0,
};

/**
 * In-process copy of the candidate pools and of the pooled items' catalog records. The pools are
 * global, so one refresh serves every request. The ranker refreshes it on a timer and keeps serving
 * the last copy when Redis is down.
 */
export class PoolCache {
  private snapshot: PoolSnapshot = EMPTY_POOLS;
  private readonly poolDepth: number;
  private readonly catalogRereadPerRefresh: number;
  /** Index in the cached records at which the next refresh continues the rolling re-read. */
  private rereadOffset = 0;

  constructor(
    private readonly store: FeatureStore,
    options: PoolCacheOptions = {},
  ) {
    this.poolDepth = options.poolDepth ?? 200;
    this.catalogRereadPerRefresh = options.catalogRereadPerRefresh ?? 500;
  }

  get current(): PoolSnapshot {
    return this.snapshot;
  }

  /**
   * Reads every pool in three round trips: the category names, all pools at once, then the catalog
   * records of newly pooled items plus a rolling share of the cached ones.
   */
  async refresh(nowMs: number): Promise<PoolSnapshot> {
    const [names] = await this.store.read([{ kind: 'zsetTop', key: keys.poolCategoryNames(), limit: FEATURE_SETTINGS.poolCategoryNamesMax }]);
    const categories = members(names);
    const requests: ReadRequest[] = [
      { kind: 'zsetTop', key: keys.poolPopular(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolTrending(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolFresh(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolLive(), limit: this.poolDepth },
      ...categories.map((category): ReadRequest => ({ kind: 'zsetTop', key: keys.poolCategory(category), limit: this.poolDepth })),
    ];
    const [popularResult, trendingResult, freshResult, liveResult, ...categoryResults] = await this.store.read(requests);
    const popular = members(popularResult);
    const trending = members(trendingResult);
    const fresh = members(freshResult);
    const pooledLive = members(liveResult);
    const byCategory = new Map(categories.map((category, index) => [category, members(categoryResults[index])]));
    const catalog = await this.refreshCatalog([popular, trending, fresh, pooledLive, ...byCategory.values()]);
    // Events may name any item id, so an item enters the pools before (or without) a catalog
    // record. Only cataloged items are proposed: otherwise anyone who sends events could put a
    // made-up id at the top of every feed. An item joins once its record is written.
    const cataloged = (list: readonly string[]) => list.filter((itemId) => catalog.has(itemId));
    // The live pool keeps an item after its stream ended, but its catalog record then has live: false.
    const live = pooledLive.filter((itemId) => catalog.get(itemId)?.live === true);
    this.snapshot = {
      popular: cataloged(popular),
      trending: cataloged(trending),
      fresh: cataloged(fresh),
      live,
      byCategory: new Map([...byCategory].map(([category, list]) => [category, cataloged(list)])),
      catalog,
      readAtMs: nowMs,
    };
    return this.snapshot;
  }

  private async refreshCatalog(lists: readonly PoolList[]): Promise<Map<string, CatalogItem>> {
    const previous = this.snapshot.catalog;
    const pooled = [...new Set(lists.flat())];
    const missing = pooled.filter((itemId) => !previous.has(itemId));
    const cached = pooled.filter((itemId) => previous.has(itemId));
    const reread: string[] = [];
    for (let index = 0; index < Math.min(this.catalogRereadPerRefresh, cached.length); index++) {
      reread.push(cached[(this.rereadOffset + index) % cached.length] as string);
    }
    this.rereadOffset = cached.length === 0 ? 0 : (this.rereadOffset + reread.length) % cached.length;
    const toRead = [...missing, ...reread];
    const [result] = toRead.length === 0 ? [] : await this.store.read([{ kind: 'strings', keys: toRead.map((itemId) => keys.itemCatalog(itemId)) }]);
    const texts = result?.kind === 'strings' ? result.value : [];
    const catalog = new Map<string, CatalogItem>();
    for (const itemId of cached) {
      catalog.set(itemId, previous.get(itemId) as CatalogItem);
    }
    toRead.forEach((itemId, index) => {
      const text = texts[index];
      if (text) {
        catalog.set(itemId, JSON.parse(text) as CatalogItem);
      }
    });
    return catalog;
  }
}

function members(result: ReadResult | undefined): string[] {
  return result?.kind === 'zsetTop' ? result.value.map((entry) => entry.member) : [];
}
