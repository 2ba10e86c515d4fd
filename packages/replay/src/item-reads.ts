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
  /** The first instant of the store's clock at which the snapshot or catalog key has expired, in epoch ms. */
  expiresAtMs: number;
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
    const snapshotKeys: string[] = [];
    const catalogKeys: string[] = [];
    const clockMs = this.now();
    for (let index = 0; index < itemIds.length; index++) {
      const itemId = itemIds[index] as string;
      const entry = this.items.get(itemId);
      if (entry !== undefined && entry.expiresAtMs > clockMs) {
        entries[index] = entry;
      } else {
        const itemKeys = keys.item(itemId);
        snapshotKeys.push(itemKeys.snapshot);
        catalogKeys.push(itemKeys.catalog);
      }
    }
    const requests: ReadRequest[] = [globalStatsRequest(), sessionSeenRequest(session.sessionId, itemIds)];
    if (snapshotKeys.length > 0) {
      requests.push({ kind: 'snapshots', keys: snapshotKeys }, { kind: 'strings', keys: catalogKeys });
    }
    const [global, seen, snapshots, catalogs] = await this.store.read(requests);
    if (snapshotKeys.length > 0) {
      this.storeRead(itemIds, entries, snapshotKeys, catalogKeys, snapshots, catalogs);
    }

    const seenFlags = seenFlagsOf(seen, itemIds.length);
    return buildItemSnapshots(itemIds, entries as StoredItem[], nowMs, global, covisitScoresOf(itemIds, covisitLists, nowMs), seenFlags);
  };

  /** Keeps the items read for the unset slots of `entries`, and fills those slots. */
  private storeRead(
    itemIds: readonly string[],
    entries: Array<StoredItem | undefined>,
    snapshotKeys: readonly string[],
    catalogKeys: readonly string[],
    snapshots: ReadResult | undefined,
    catalogs: ReadResult | undefined,
  ): void {
    const packedValues = snapshots?.kind === 'snapshots' ? snapshots.value : [];
    const catalogTexts = catalogs?.kind === 'strings' ? catalogs.value : [];
    let read = 0;
    for (let index = 0; index < itemIds.length; index++) {
      if (entries[index] !== undefined) {
        continue;
      }
      const catalogText = catalogTexts[read];
      const catalog = catalogText ? parseCatalogText(catalogText) : undefined;
      // A missing key stays missing until a write, and a write invalidates the copy.
      const expiresAtMs = Math.min(
        this.store.expiresAtMs(snapshotKeys[read] as string) ?? Number.POSITIVE_INFINITY,
        this.store.expiresAtMs(catalogKeys[read] as string) ?? Number.POSITIVE_INFINITY,
      );
      const entry: StoredItem = { packed: packedValues[read] ?? null, catalog, facts: catalog === undefined ? undefined : catalogFactsOf(catalog), expiresAtMs };
      this.items.set(itemIds[index] as string, entry);
      entries[index] = entry;
      read += 1;
    }
  }
}
