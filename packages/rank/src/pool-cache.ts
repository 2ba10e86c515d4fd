import { FEATURE_SETTINGS, keys, type ReadRequest, type ReadResult } from '@nexttap/features';
import type { FeatureStore } from '@nexttap/store';

/** A ranked list of item ids from one candidate pool, best first. */
export type PoolList = readonly string[];

export interface PoolSnapshot {
  popular: PoolList;
  trending: PoolList;
  fresh: PoolList;
  byCategory: ReadonlyMap<string, PoolList>;
  /** When the snapshot was read, in epoch ms. */
  readAtMs: number;
}

export interface PoolCacheOptions {
  /** Members read from each pool. Default 200. */
  poolDepth?: number;
}

/**
 * In-process copy of the candidate pools. The pools are global, so one refresh serves every
 * request; the ranker refreshes it on a timer and keeps serving the last copy when Redis is down.
 */
export class PoolCache {
  private snapshot: PoolSnapshot = { popular: [], trending: [], fresh: [], byCategory: new Map(), readAtMs: 0 };
  private readonly poolDepth: number;

  constructor(
    private readonly store: FeatureStore,
    options: PoolCacheOptions = {},
  ) {
    this.poolDepth = options.poolDepth ?? 200;
  }

  get current(): PoolSnapshot {
    return this.snapshot;
  }

  /** Reads every pool in two round trips: the category names, then all pools at once. */
  async refresh(nowMs: number): Promise<PoolSnapshot> {
    const [names] = await this.store.read([{ kind: 'zsetTop', key: keys.poolCategoryNames(), limit: FEATURE_SETTINGS.poolCategoryNamesMax }]);
    const categories = members(names);
    const requests: ReadRequest[] = [
      { kind: 'zsetTop', key: keys.poolPopular(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolTrending(), limit: this.poolDepth },
      { kind: 'zsetTop', key: keys.poolFresh(), limit: this.poolDepth },
      ...categories.map((category): ReadRequest => ({ kind: 'zsetTop', key: keys.poolCategory(category), limit: this.poolDepth })),
    ];
    const [popular, trending, fresh, ...byCategory] = await this.store.read(requests);
    this.snapshot = {
      popular: members(popular),
      trending: members(trending),
      fresh: members(fresh),
      byCategory: new Map(categories.map((category, index) => [category, members(byCategory[index])])),
      readAtMs: nowMs,
    };
    return this.snapshot;
  }
}

function members(result: ReadResult | undefined): string[] {
  return result?.kind === 'zsetTop' ? result.value.map((entry) => entry.member) : [];
}
