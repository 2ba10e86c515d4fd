import type { CatalogItem } from '@nexttap/events';
import { catalogFactsOf, parseCatalogText, rebasePackedSnapshot, type CatalogFacts, type ReadResult } from '@nexttap/features';

/** One item's stored features as last read: its packed snapshot and its catalog record. */
export interface CachedItem {
  /**
   * The packed snapshot (landmark, then the stat fields) undecayed and moved to the landmark
   * `cacheLandmarkOf(readAtMs)`, or null when the item has none.
   */
  packed: Float64Array | null;
  catalog: CatalogItem | undefined;
  /** `catalogFactsOf(catalog)`, kept with the record so that a feed does not look it up per item. */
  facts: CatalogFacts | undefined;
  /** The catalog record's text as read, so that a read of the same text keeps `catalog` and `facts`. */
  catalogText: string | undefined;
  /**
   * Time the item was read from the store, in epoch ms of the ranker's clock. It is -Infinity when
   * a change notice of the item arrived during the read, because the read may predate the change,
   * so the next request reads the item again.
   */
  readAtMs: number;
}

export interface ItemCacheOptions {
  /**
   * Oldest entry served, in ms; an older one is read again in the request's item round trip.
   * 0 reads every item on every request.
   */
  maxAgeMs: number;
  /** Items kept at most; past it the items read longest ago are dropped first. Default 100,000. */
  maxItems?: number;
  /**
   * Oldest copy of the global counters served, in ms. No change notice covers them, and every event
   * changes them. Default the smaller of `maxAgeMs` and 1,000.
   */
  globalMaxAgeMs?: number;
}

/** Default oldest copy of the global counters, in ms: they only set the priors of the smoothed rates. */
const DEFAULT_GLOBAL_MAX_AGE_MS = 1_000;

/** Spacing of the landmarks that cached snapshots are moved to, in ms. */
const CACHE_LANDMARK_STEP_MS = 60_000;

/**
 * Returns the landmark of the snapshots read at `readAtMs`: the start of its minute. Entries
 * read in one minute share it, so a feed decays them with one set of factors. A request comes at
 * most a minute plus `maxAgeMs` after an entry's landmark, so with half-lives of 10 minutes and
 * longer its decay factors stay far from underflow.
 */
export function cacheLandmarkOf(readAtMs: number): number {
  return Math.floor(readAtMs / CACHE_LANDMARK_STEP_MS) * CACHE_LANDMARK_STEP_MS;
}

/** Items kept by default: about 100 MB at most, on the estimate that an entry with its catalog record is under 1 KB. */
export const DEFAULT_ITEM_CACHE_MAX_ITEMS = 100_000;

/**
 * In-process copy of items' packed snapshots, catalog records and the global counters, so that a
 * feed request reads only the items whose copy is older than `maxAgeMs`. Decay is applied at
 * request time from the entry's landmark, so a cached entry gives the features the store gave at
 * its read time, decayed to the request's instant. It misses only the events applied since that
 * read, at most `maxAgeMs` ago; with ingest's item change notices passed to `invalidate`, only
 * those whose notice is still on its way. Snapshots are moved to a per-minute landmark when stored, so the
 * decayed counters equal an uncached read's up to rounding, not bit for bit. Session-specific
 * item features (whether the session saw the item, co-visitation from its recent items) are read
 * on every request.
 */
export class ItemCache {
  private readonly items = new Map<string, CachedItem>();
  private global: { result: ReadResult; readAtMs: number } | undefined;
  readonly maxAgeMs: number;
  private readonly maxItems: number;
  private readonly globalMaxAgeMs: number;
  /**
   * Counts invalidations. A read records the count when it is planned (`changeCount`); an item
   * invalidated after that, or a `clear` after that, makes the read's values suspect.
   */
  private changes = 0;
  /** The change count at each item's last invalidation, for the items invalidated since `clearedAt`. */
  private readonly invalidatedAt = new Map<string, number>();
  /** The change count at the last `clear`. */
  private clearedAt = 0;

  constructor(options: ItemCacheOptions) {
    this.maxAgeMs = options.maxAgeMs;
    this.maxItems = options.maxItems ?? DEFAULT_ITEM_CACHE_MAX_ITEMS;
    this.globalMaxAgeMs = options.globalMaxAgeMs ?? Math.min(this.maxAgeMs, DEFAULT_GLOBAL_MAX_AGE_MS);
  }

  /** The count of invalidations so far; a caller records it before it reads items and passes it to `store`. */
  get changeCount(): number {
    return this.changes;
  }

  /** Items cached now. */
  get size(): number {
    return this.items.size;
  }

  /** Returns the entry of an item if it was read at most `maxAgeMs` before `nowMs`. */
  fresh(itemId: string, nowMs: number): CachedItem | undefined {
    const entry = this.items.get(itemId);
    return entry !== undefined && this.isFresh(entry.readAtMs, nowMs) ? entry : undefined;
  }

  /**
   * Stores an item read at `readAtMs` from the results of a snapshot and a catalog read, and
   * returns its entry. A catalog text equal to the cached one keeps the parsed record.
   */
  store(itemId: string, packed: Float64Array | null, catalogText: string | null | undefined, readAtMs: number, readPlannedAt = this.changes): CachedItem {
    // A change notice that arrived after the read was planned may describe a write the read did
    // not see, so the entry is stored as stale: this request uses it, the next one reads again.
    const suspect = this.clearedAt > readPlannedAt || (this.invalidatedAt.get(itemId) ?? 0) > readPlannedAt;
    const entryReadAtMs = suspect ? Number.NEGATIVE_INFINITY : readAtMs;
    const previous = this.items.get(itemId);
    const text = catalogText || undefined;
    const rebased = packed === null ? null : rebasePackedSnapshot(packed, cacheLandmarkOf(readAtMs));
    let entry: CachedItem;
    if (previous !== undefined && previous.catalogText === text) {
      // Comparing with the text of the entry costs less than hashing the text, a few hundred
      // bytes, to find its record in the parsed-record cache.
      entry = { packed: rebased, catalog: previous.catalog, facts: previous.facts, catalogText: previous.catalogText, readAtMs: entryReadAtMs };
    } else {
      const catalog = text === undefined ? undefined : parseCatalogText(text);
      entry = { packed: rebased, catalog, facts: catalog === undefined ? undefined : catalogFactsOf(catalog), catalogText: text, readAtMs: entryReadAtMs };
    }
    if (previous !== undefined) {
      // Re-inserting moves the item to the end of the map's order, which is the eviction order.
      this.items.delete(itemId);
    } else if (this.items.size >= this.maxItems) {
      this.evictOldest();
    }
    this.items.set(itemId, entry);
    return entry;
  }

  /** Returns the cached result of the global counters' read if it is at most `globalMaxAgeMs` old at `nowMs`. */
  freshGlobal(nowMs: number): ReadResult | undefined {
    return this.global !== undefined && isWithin(this.global.readAtMs, nowMs, this.globalMaxAgeMs) ? this.global.result : undefined;
  }

  storeGlobal(result: ReadResult, readAtMs: number): void {
    this.global = { result, readAtMs };
  }

  /**
   * Drops the entries of items whose features changed (a change notice), and marks reads of them
   * in flight as suspect, so that the next request reads them again.
   */
  invalidate(itemIds: readonly string[]): void {
    this.changes += 1;
    if (this.invalidatedAt.size + itemIds.length > this.maxItems) {
      // Bounds the map: a clear marks every read in flight as suspect, which is what the map would
      // do for these items, and more.
      this.clear();
      return;
    }
    for (const itemId of itemIds) {
      this.items.delete(itemId);
      this.invalidatedAt.set(itemId, this.changes);
    }
  }

  /**
   * Drops every entry and marks every read in flight as suspect: after the store was replaced, or
   * when change notices may have been lost.
   */
  clear(): void {
    this.changes += 1;
    this.clearedAt = this.changes;
    this.invalidatedAt.clear();
    this.items.clear();
    this.global = undefined;
  }

  private isFresh(readAtMs: number, nowMs: number): boolean {
    return isWithin(readAtMs, nowMs, this.maxAgeMs);
  }

  private evictOldest(): void {
    // Drops a tenth at once, so that a full cache does not evict on every insert.
    let toDrop = Math.max(1, Math.floor(this.maxItems / 10));
    for (const itemId of this.items.keys()) {
      if (toDrop-- <= 0) {
        break;
      }
      this.items.delete(itemId);
    }
  }
}

/** Tells whether a copy read at `readAtMs` is at most `maxAgeMs` old at `nowMs`; never with a max age of 0. */
function isWithin(readAtMs: number, nowMs: number, maxAgeMs: number): boolean {
  if (maxAgeMs <= 0) {
    return false;
  }
  // A clock that went back (a test clock, or a corrected wall clock) makes a copy stale rather
  // than fresh for longer than the max age.
  const ageMs = nowMs - readAtMs;
  return ageMs >= 0 && ageMs <= maxAgeMs;
}
