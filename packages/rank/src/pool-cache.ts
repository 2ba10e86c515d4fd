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
  /**
   * Age in ms past which a refresh reads the popular pool again and derives the category pools from
   * it. Younger ones are kept, and the refresh reads only the trending, fresh and live pools. The
   * popular pool holds up to 10,000 items. On a 2-core virtual machine with the MovieLens seed, a
   * refresh of every pool took 5.4 to 5.6 ms of CPU, in blocks that delayed the feeds due meanwhile.
   * A refresh of the short pools with the rolling re-read took 1.2 to 2.1 ms.
   * Default 0: every refresh reads every pool, as replay needs for a point-in-time view.
   */
  popularMaxAgeMs?: number;
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
  private readonly popularMaxAgeMs: number;
  /** When the popular and category pools of the snapshot were read, in epoch ms. */
  private popularReadAtMs = Number.NEGATIVE_INFINITY;
  /** Items whose records a short-pool refresh re-reads in turn: every item with a record, in the order they got it. */
  private rereadOrder: readonly string[] = [];
  /** Index in `rereadOrder` at which the next refresh continues the rolling re-read. */
  private rereadOffset = 0;
  /** The text each cached record was parsed from, so that a re-read of the same text is not parsed again. */
  private readonly catalogTexts = new WeakMap<CatalogItem, string>();

  constructor(
    private readonly store: FeatureStore,
    options: PoolCacheOptions = {},
  ) {
    this.poolDepth = options.poolDepth ?? 200;
    this.catalogRereadPerRefresh = options.catalogRereadPerRefresh ?? 500;
    this.popularMaxAgeMs = options.popularMaxAgeMs ?? 0;
    if (!(this.popularMaxAgeMs >= 0)) {
      throw new RangeError(`popularMaxAgeMs is ${this.popularMaxAgeMs}; set it to 0 or more ms`);
    }
  }

  get current(): PoolSnapshot {
    return this.snapshot;
  }

  /**
   * Reads the pools. Popular and category pools `popularMaxAgeMs` old or older are read again with
   * the rest (`refreshAll`), and so are pools read at a later clock time. Younger ones are kept,
   * and only the trending, fresh and live pools are read (`refreshShortPools`).
   */
  async refresh(nowMs: number): Promise<PoolSnapshot> {
    const popularAgeMs = nowMs - this.popularReadAtMs;
    if (this.snapshot === EMPTY_POOLS || !(popularAgeMs >= 0 && popularAgeMs < this.popularMaxAgeMs)) {
      return this.refreshAll(nowMs);
    }
    return this.refreshShortPools(nowMs);
  }

  /**
   * Reads every pool in four round trips. The first reads the category names, the second the
   * popular, trending, fresh and live pools, and the third the catalog records of newly pooled
   * items plus a rolling share of the cached ones. The last reads the members of the categories
   * that engaged items alone do not fill (`deriveCategoryPools`).
   */
  private async refreshAll(nowMs: number): Promise<PoolSnapshot> {
    const [names] = await this.store.read([{ kind: 'zsetTop', key: keys.poolCategoryNames(), limit: FEATURE_SETTINGS.poolCategoryNamesMax }]);
    const categories = members(names);
    const [popularResult, trendingResult, freshResult, liveResult] = await this.store.read([
      // The whole popular pool, because the category pools are taken from it.
      { kind: 'zsetMembers', key: keys.poolPopular(), limit: Math.max(this.poolDepth, FEATURE_SETTINGS.poolPopularMax) },
      { kind: 'zsetTop', key: keys.poolTrending(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolFresh(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolLive(), limit: this.poolDepth },
    ]);
    const popularPool = popularResult?.kind === 'zsetMembers' ? popularResult.value : [];
    const popular = popularPool.slice(0, this.poolDepth);
    const trending = members(trendingResult);
    const fresh = members(freshResult);
    const pooledLive = members(liveResult);
    const catalog = await this.refreshCatalog([popularPool, trending, fresh, pooledLive]);
    const byCategory = await this.deriveCategoryPools(categories, popularPool, catalog);
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
      byCategory,
      catalog,
      readAtMs: nowMs,
    };
    this.popularReadAtMs = nowMs;
    return this.snapshot;
  }

  /**
   * Reads the trending, fresh and live pools in one round trip and the catalog records of their
   * new items, plus the rolling re-read, in a second. The popular and category pools stay those of
   * the last full refresh, and so do the records of their items, apart from the re-read ones.
   */
  private async refreshShortPools(nowMs: number): Promise<PoolSnapshot> {
    const previous = this.snapshot;
    const [trendingResult, freshResult, liveResult] = await this.store.read([
      { kind: 'zsetTop', key: keys.poolTrending(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolFresh(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolLive(), limit: this.poolDepth },
    ]);
    const trending = members(trendingResult);
    const fresh = members(freshResult);
    const pooledLive = members(liveResult);
    const catalog = await this.refreshCatalog([trending, fresh, pooledLive], previous.catalog);
    const cataloged = (list: readonly string[]) => list.filter((itemId) => catalog.has(itemId));
    this.snapshot = {
      popular: previous.popular,
      trending: cataloged(trending),
      fresh: cataloged(fresh),
      live: pooledLive.filter((itemId) => catalog.get(itemId)?.live === true),
      byCategory: previous.byCategory,
      catalog,
      readAtMs: nowMs,
    };
    return this.snapshot;
  }

  /**
   * Builds each category's pool, best first, up to `poolDepth` items: the popular pool's items whose
   * catalog record lists the category, in the popular pool's order, then the category's members
   * that are not among them. Ingest keeps no engagement score per category, because one sorted-set
   * update per category of every engaged item cost about 11% of redis-server's CPU time per event
   * (`bench/profile-writes.ts`, MovieLens). Catalog records write the members with score 0, so
   * they come in ZREVRANGE order, as the items without engagement did when each category had its
   * own scores. The members are read only for categories with fewer than `poolDepth` popular items.
   *
   * NOTE: an item below the popular pool's bound (`poolPopularMax`) counts as one without
   * engagement here, so a category whose engaged items all rank that low lists them by id only.
   */
  private async deriveCategoryPools(categories: readonly string[], popularPool: readonly string[], catalog: ReadonlyMap<string, CatalogItem>): Promise<Map<string, string[]>> {
    const byCategory = new Map<string, string[]>(categories.map((category) => [category, []]));
    const filling = { openCategories: categories.length };
    for (let start = 0; start < popularPool.length && filling.openCategories > 0; start += YIELD_EVERY_IDS) {
      if (start > 0) {
        await yieldToEventLoop();
      }
      fillCategoryLists(popularPool, start, Math.min(popularPool.length, start + YIELD_EVERY_IDS), catalog, byCategory, this.poolDepth, filling);
    }
    const unfilled = categories.filter((category) => (byCategory.get(category) as string[]).length < this.poolDepth);
    if (unfilled.length === 0) {
      return byCategory;
    }
    // A category's members include its engaged items, so each read reaches past them by their count.
    const results = await this.store.read(
      unfilled.map((category): ReadRequest => ({ kind: 'zsetMembers', key: keys.poolCategory(category), limit: this.poolDepth + (byCategory.get(category) as string[]).length })),
    );
    unfilled.forEach((category, index) => {
      const result = results[index];
      const list = byCategory.get(category) as string[];
      const listed = new Set(list);
      // Only catalog records add members, so every member has one.
      for (const itemId of result?.kind === 'zsetMembers' ? result.value : []) {
        if (list.length === this.poolDepth) {
          break;
        }
        if (!listed.has(itemId)) {
          listed.add(itemId);
          list.push(itemId);
        }
      }
    });
    return byCategory;
  }

  /**
   * Returns the catalog records of the pooled items: the cached ones, plus those of newly pooled
   * items and a rolling share of the cached ones, read in one round trip. A popular pool of
   * 10,000 items makes this a pass over 10,000 ids every full refresh, so it walks the lists once
   * and parses a re-read record only when its text changed. With `base`, the records of a short-pool
   * refresh: those of `base` with the new items' records added and the re-read ones updated.
   * `base` itself comes back when no record was added or changed.
   */
  private async refreshCatalog(lists: readonly PoolList[], base?: ReadonlyMap<string, CatalogItem>): Promise<ReadonlyMap<string, CatalogItem>> {
    const previous = this.snapshot.catalog;
    const collected = new Map<string, CatalogItem>();
    const cached: string[] = [];
    const missing: string[] = [];
    const missingSet = new Set<string>();
    const pooled: PooledItems = { catalog: collected, cached, missing, missingSet };
    let sinceYield = 0;
    for (let listIndex = 0; listIndex < lists.length; listIndex++) {
      const list = lists[listIndex] as PoolList;
      for (let start = 0; start < list.length; start += YIELD_EVERY_IDS) {
        if (sinceYield >= YIELD_EVERY_IDS) {
          await yieldToEventLoop();
          sinceYield = 0;
        }
        const end = Math.min(list.length, start + YIELD_EVERY_IDS);
        if (base === undefined) {
          // The first list is one sorted set's members, which are distinct, so only the later
          // lists can repeat an id.
          collectPooled(list, start, end, listIndex > 0, previous, pooled);
        } else {
          collectMissing(list, start, end, base, pooled);
        }
        sinceYield += end - start;
      }
    }
    // A full refresh re-reads among the items it found cached. A short-pool refresh re-reads among
    // every item with a record (`rereadOrder`).
    const order = base === undefined ? cached : this.rereadOrder;
    const reread: string[] = [];
    for (let index = 0; index < Math.min(this.catalogRereadPerRefresh, order.length); index++) {
      reread.push(order[(this.rereadOffset + index) % order.length] as string);
    }
    this.rereadOffset = order.length === 0 ? 0 : (this.rereadOffset + reread.length) % order.length;
    const toRead = missing.length === 0 ? reread : [...missing, ...reread];
    const [result] = toRead.length === 0 ? [] : await this.store.read([{ kind: 'strings', keys: toRead.map((itemId) => keys.itemCatalog(itemId)) }]);
    const texts = result?.kind === 'strings' ? result.value : [];
    const known = base ?? collected;
    const changed: Array<[string, CatalogItem]> = [];
    toRead.forEach((itemId, index) => {
      const text = texts[index];
      // An empty re-read keeps the cached record.
      if (!text) {
        return;
      }
      const cachedRecord = known.get(itemId);
      if (cachedRecord !== undefined && this.catalogTexts.get(cachedRecord) === text) {
        return;
      }
      const record = JSON.parse(text) as CatalogItem;
      this.catalogTexts.set(record, text);
      changed.push([itemId, record]);
    });
    if (base !== undefined && changed.length === 0) {
      return base;
    }
    // Copying the records of a full refresh, about 9,000 for the MovieLens seed, is one native
    // call; a short-pool refresh that changes nothing skips it.
    const catalog = base === undefined ? collected : new Map(base);
    for (const [itemId, record] of changed) {
      catalog.set(itemId, record);
    }
    // Only short-pool refreshes use `rereadOrder`, so a cache that reads every pool each time, as
    // replay's does, does not copy the ids.
    if (this.popularMaxAgeMs > 0) {
      if (base === undefined) {
        this.rereadOrder = [...catalog.keys()];
      } else if (catalog.size > base.size) {
        this.rereadOrder = [...this.rereadOrder, ...missing.filter((itemId) => catalog.has(itemId))];
      }
    }
    return catalog;
  }
}

/**
 * Ids a refresh walks between two turns of the event loop. A refresh of the MovieLens seed's pools
 * (about 9,000 pooled items) took 8 to 15 ms of CPU on a loaded 2-core virtual machine. On the
 * memory store it ran as one block, which delayed every feed request due meanwhile. Steps of
 * 2,000 ids split it into blocks of a few milliseconds at most.
 */
const YIELD_EVERY_IDS = 2_000;

/** The catalog records of the pooled items being collected by one refresh. */
interface PooledItems {
  catalog: Map<string, CatalogItem>;
  /** Pooled items with a record in the previous snapshot, in pool order. */
  cached: string[];
  /** Pooled items without one, in pool order. */
  missing: string[];
  missingSet: Set<string>;
}

/** Adds `list[start]` to `list[end - 1]` to `pooled`. With `mayRepeat` it skips ids collected before. */
function collectPooled(list: PoolList, start: number, end: number, mayRepeat: boolean, previous: ReadonlyMap<string, CatalogItem>, pooled: PooledItems): void {
  const { catalog, cached, missing, missingSet } = pooled;
  for (let index = start; index < end; index++) {
    const itemId = list[index] as string;
    if (mayRepeat && (catalog.has(itemId) || missingSet.has(itemId))) {
      continue;
    }
    const record = previous.get(itemId);
    if (record === undefined) {
      missingSet.add(itemId);
      missing.push(itemId);
    } else {
      catalog.set(itemId, record);
      cached.push(itemId);
    }
  }
}

/** Adds to `pooled.missing` the ids of `list[start]` to `list[end - 1]` that `known` has no record of, once each. */
function collectMissing(list: PoolList, start: number, end: number, known: ReadonlyMap<string, CatalogItem>, pooled: PooledItems): void {
  for (let index = start; index < end; index++) {
    const itemId = list[index] as string;
    if (!known.has(itemId) && !pooled.missingSet.has(itemId)) {
      pooled.missingSet.add(itemId);
      pooled.missing.push(itemId);
    }
  }
}

/**
 * Appends the items `popularPool[start]` to `popularPool[end - 1]` to the lists of their
 * categories, up to `poolDepth` items per list, and counts the lists that fill up.
 */
function fillCategoryLists(
  popularPool: readonly string[],
  start: number,
  end: number,
  catalog: ReadonlyMap<string, CatalogItem>,
  byCategory: ReadonlyMap<string, string[]>,
  poolDepth: number,
  filling: { openCategories: number },
): void {
  for (let index = start; index < end && filling.openCategories > 0; index++) {
    const itemId = popularPool[index] as string;
    for (const category of catalog.get(itemId)?.categories ?? []) {
      const list = byCategory.get(category);
      // A record that lists a category twice adds the item once.
      if (list !== undefined && list.length < poolDepth && list[list.length - 1] !== itemId) {
        list.push(itemId);
        if (list.length === poolDepth) {
          filling.openCategories -= 1;
        }
      }
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function members(result: ReadResult | undefined): string[] {
  return result?.kind === 'zsetTop' ? result.value.map((entry) => entry.member) : [];
}
