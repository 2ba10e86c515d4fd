import type { CatalogItem } from '@nexttap/events';
import {
  catalogFactsOf,
  covisitScoresOf,
  globalStatsRequest,
  keys,
  parseCatalogText,
  seenFlagsOf,
  sessionSeenRequest,
  type CatalogFacts,
  type ItemSnapshot,
  type ReadRequest,
  type ReadResult,
  type SessionSnapshot,
} from '@nexttap/features';
import { buildItemSnapshots, readItems } from '@nexttap/rank';
import type { FeatureStore, MemoryFeatureStore } from '@nexttap/store';

/**
 * Reads the features of a point's candidates as `readItems` does. `covisitLists` are the session's
 * co-visitation lists, read for the candidates under the full protocol, and undefined under the
 * sampled protocol.
 */
export type ItemReader = (itemIds: readonly string[], nowMs: number, session: SessionSnapshot, covisitLists: readonly ReadResult[] | undefined) => Promise<ItemSnapshot[]>;

/** Returns the reader that reads every item from `store` at every point. */
export function storeItemReader(store: FeatureStore): ItemReader {
  return (itemIds, nowMs, session, covisitLists) => readItems(store, itemIds, nowMs, undefined, session, covisitLists);
}

/** One item's stored values as last read. */
interface StoredItem {
  /** The packed snapshot as the store returned it; the memory store never changes a returned array. */
  packed: Float64Array | null;
  catalog: CatalogItem | undefined;
  facts: CatalogFacts | undefined;
  /** The first instant of the store's clock at which the snapshot key has expired, in epoch ms. */
  snapshotExpiresAtMs: number;
  /** The same for the catalog key. */
  catalogExpiresAtMs: number;
  /** The earlier of the two: the copy is read again from then on. */
  expiresAtMs: number;
  /** Set when a write changed the snapshot: the next read reads the snapshot again and keeps the catalog copy. */
  snapshotStale: boolean;
}

/**
 * Reads items' features from a memory store through copies of their packed snapshots and catalog
 * records kept across points. Between two points a replay applies a few events, so only a few
 * items change. A copy is used only while it equals what a read returns. The replay calls
 * `invalidate` for every item whose snapshot or catalog record a write may change. A copy whose
 * key has expired by the store's clock is read again. Decay is applied at each point's instant from the
 * stored landmark, as a fresh read does, so the snapshots are bit for bit those of `readItems`.
 * What depends on the session (co-visitation scores, whether the session saw the item) and the
 * global counters are read at every point.
 */
export class CachedItemReads {
  private readonly items = new Map<string, StoredItem>();

  /** @param now the store's clock, in epoch ms */
  constructor(
    private readonly store: MemoryFeatureStore,
    private readonly now: () => number,
  ) {}

  /** Copies kept now. */
  get size(): number {
    return this.items.size;
  }

  /** Drops the copy of an item, so that the next point reads it from the store. */
  invalidate(itemId: string): void {
    this.items.delete(itemId);
  }

  /**
   * Marks the snapshot of an item as changed, for a write that leaves its catalog record as it is
   * (an interaction), so that the next point reads the snapshot again but does not parse the
   * catalog record again.
   */
  invalidateSnapshot(itemId: string): void {
    const entry = this.items.get(itemId);
    if (entry !== undefined) {
      entry.snapshotStale = true;
    }
  }

  /** Reads the items' snapshots, in order, as `readItems` does; an `ItemReader`. */
  readonly read: ItemReader = async (itemIds, nowMs, session, covisitLists) => {
    if (itemIds.length === 0) {
      return [];
    }
    if (covisitLists === undefined) {
      // The sampled protocol reads each item's co-visitation score with its features, so it
      // reads through the store.
      return readItems(this.store, itemIds, nowMs, undefined, session);
    }
    const entries = new Array<StoredItem | undefined>(itemIds.length);
    // Items read whole (snapshot and catalog), and items whose snapshot alone is read again.
    const missing: number[] = [];
    const stale: number[] = [];
    const clockMs = this.now();
    for (let index = 0; index < itemIds.length; index++) {
      const entry = this.items.get(itemIds[index] as string);
      if (entry === undefined || entry.expiresAtMs <= clockMs) {
        missing.push(index);
      } else if (entry.snapshotStale) {
        stale.push(index);
      } else {
        entries[index] = entry;
      }
    }
    const requests: ReadRequest[] = [globalStatsRequest(), sessionSeenRequest(session.sessionId, itemIds)];
    if (missing.length > 0) {
      requests.push(
        { kind: 'snapshots', keys: missing.map((index) => keys.itemSnapshot(itemIds[index] as string)) },
        { kind: 'strings', keys: missing.map((index) => keys.itemCatalog(itemIds[index] as string)) },
      );
    }
    if (stale.length > 0) {
      requests.push({ kind: 'snapshots', keys: stale.map((index) => keys.itemSnapshot(itemIds[index] as string)) });
    }
    const results = await this.store.read(requests);
    const [global, seen] = results;
    let next = 2;
    if (missing.length > 0) {
      this.storeRead(itemIds, entries, missing, results[next], results[next + 1]);
      next += 2;
    }
    if (stale.length > 0) {
      this.storeSnapshots(itemIds, entries, stale, results[next]);
    }

    const seenFlags = seenFlagsOf(seen, itemIds.length);
    return buildItemSnapshots(itemIds, entries as StoredItem[], nowMs, global, covisitScoresOf(itemIds, covisitLists, nowMs), seenFlags);
  };

  /** Keeps the items read whole, at the `missing` indexes of `entries`, and fills those slots. */
  private storeRead(
    itemIds: readonly string[],
    entries: Array<StoredItem | undefined>,
    missing: readonly number[],
    snapshots: ReadResult | undefined,
    catalogs: ReadResult | undefined,
  ): void {
    const packedValues = snapshots?.kind === 'snapshots' ? snapshots.value : [];
    const catalogTexts = catalogs?.kind === 'strings' ? catalogs.value : [];
    for (let read = 0; read < missing.length; read++) {
      const index = missing[read] as number;
      const itemId = itemIds[index] as string;
      const catalogText = catalogTexts[read];
      const catalog = catalogText ? parseCatalogText(catalogText) : undefined;
      // A missing key stays missing until a write, and a write invalidates the copy.
      const snapshotExpiresAtMs = this.store.expiresAtMs(keys.itemSnapshot(itemId)) ?? Number.POSITIVE_INFINITY;
      const catalogExpiresAtMs = this.store.expiresAtMs(keys.itemCatalog(itemId)) ?? Number.POSITIVE_INFINITY;
      const entry: StoredItem = {
        packed: packedValues[read] ?? null,
        catalog,
        facts: catalog === undefined ? undefined : catalogFactsOf(catalog),
        snapshotExpiresAtMs,
        catalogExpiresAtMs,
        expiresAtMs: Math.min(snapshotExpiresAtMs, catalogExpiresAtMs),
        snapshotStale: false,
      };
      this.items.set(itemId, entry);
      entries[index] = entry;
    }
  }

  /**
   * Replaces the copies of the items at the `stale` indexes with their new snapshots and the
   * catalog copies they had, and fills those slots. A new copy rather than a change to the old one,
   * because the snapshots built from the old copy may still be in use.
   */
  private storeSnapshots(itemIds: readonly string[], entries: Array<StoredItem | undefined>, stale: readonly number[], snapshots: ReadResult | undefined): void {
    const packedValues = snapshots?.kind === 'snapshots' ? snapshots.value : [];
    for (let read = 0; read < stale.length; read++) {
      const index = stale[read] as number;
      const itemId = itemIds[index] as string;
      const previous = this.items.get(itemId) as StoredItem;
      const snapshotExpiresAtMs = this.store.expiresAtMs(keys.itemSnapshot(itemId)) ?? Number.POSITIVE_INFINITY;
      const entry: StoredItem = {
        ...previous,
        packed: packedValues[read] ?? null,
        snapshotExpiresAtMs,
        expiresAtMs: Math.min(snapshotExpiresAtMs, previous.catalogExpiresAtMs),
        snapshotStale: false,
      };
      this.items.set(itemId, entry);
      entries[index] = entry;
    }
  }
}
