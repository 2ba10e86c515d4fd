import type { ItemSnapshot, SessionSnapshot, UserSnapshot } from '@nexttap/features';
import type { PoolSnapshot } from './pool-cache';

/** Why an item is a candidate. An item proposed by several sources lists each of them. */
export const CANDIDATE_SOURCES = [
  'request',
  'covisit',
  'session-category',
  'user-category',
  'trending',
  'live',
  'fresh',
  'popular',
] as const;

export type CandidateSource = (typeof CANDIDATE_SOURCES)[number];

export interface Candidate {
  itemId: string;
  sources: CandidateSource[];
}

/** How many items each source proposes. Defaults are in `DEFAULT_CANDIDATE_LIMITS`. */
export interface CandidateLimits {
  covisit: number;
  popular: number;
  trending: number;
  live: number;
  fresh: number;
  /** Categories taken from the session and from the user, each. */
  topCategories: number;
  perCategory: number;
  /** Cap on the merged list, applied after de-duplication. */
  total: number;
}

export const DEFAULT_CANDIDATE_LIMITS: CandidateLimits = {
  covisit: 100,
  popular: 100,
  trending: 50,
  live: 20,
  fresh: 30,
  topCategories: 3,
  perCategory: 60,
  total: 400,
};

/** One source's proposals, best first: the first `limit` of `itemIds`. */
interface SourceList {
  source: CandidateSource;
  itemIds: readonly string[];
  limit: number;
  /** For a pool list, each item's slot in the pool snapshot's merge index; none for co-visitation neighbours. */
  slots: Int32Array | undefined;
}

/**
 * Generates candidates: co-visitation neighbours of the session's recent positive items, items of
 * the session's and the user's favourite categories, trending, live, fresh and popular items. The
 * sources are merged round-robin (first of each source, then second of each, …), so that the cap
 * keeps a share of every source instead of only the first ones; an item proposed again gains the
 * new source.
 */
export function generateCandidates(
  pools: PoolSnapshot,
  session: SessionSnapshot,
  user: UserSnapshot | undefined,
  limits: CandidateLimits = DEFAULT_CANDIDATE_LIMITS,
  covisitNeighbours: readonly string[] = [],
): Candidate[] {
  // The lists keep their limits instead of being sliced, so that a request allocates no copy of
  // the up to 10 pool lists it merges.
  const index = mergeIndexOf(pools);
  const pooled = (source: CandidateSource, itemIds: readonly string[], limit: number): SourceList => ({ source, itemIds, limit, slots: index.listSlots.get(itemIds) });
  const lists: SourceList[] = [{ source: 'covisit', itemIds: covisitNeighbours, limit: limits.covisit, slots: undefined }];
  for (const category of topCategories(session.categoryAffinity, limits.topCategories)) {
    lists.push(pooled('session-category', pools.byCategory.get(category) ?? [], limits.perCategory));
  }
  for (const category of topCategories(user?.categoryAffinity ?? new Map(), limits.topCategories)) {
    lists.push(pooled('user-category', pools.byCategory.get(category) ?? [], limits.perCategory));
  }
  lists.push(
    pooled('trending', pools.trending, limits.trending),
    pooled('live', pools.live, limits.live),
    pooled('fresh', pools.fresh, limits.fresh),
    pooled('popular', pools.popular, limits.popular),
  );
  return mergeRoundRobin(index, lists, limits.total);
}

/**
 * Per pool snapshot, a slot for every pooled item, and per slot the stamp of the merge that last
 * proposed the item and the item's place in that merge's list. A merge then finds an item proposed
 * before in two typed arrays instead of a map it fills anew for each request. Places rather than
 * candidates, so that the index keeps no request's objects alive.
 */
interface MergeIndex {
  slots: Map<string, number>;
  /**
   * Per pool list, its items' slots in list order. A merge reads a pooled item's slot from this
   * array, so of its 600 or so proposals only the co-visitation ids are looked up by id.
   */
  listSlots: Map<readonly string[], Int32Array>;
  stamps: Int32Array;
  places: Int32Array;
  stamp: number;
}

const mergeIndexes = new WeakMap<PoolSnapshot, MergeIndex>();

function mergeIndexOf(pools: PoolSnapshot): MergeIndex {
  let index = mergeIndexes.get(pools);
  if (index === undefined) {
    const slots = new Map<string, number>();
    const listSlots = new Map<readonly string[], Int32Array>();
    const addAll = (itemIds: readonly string[]) => {
      const slotsOfList = new Int32Array(itemIds.length);
      itemIds.forEach((itemId, position) => {
        let slot = slots.get(itemId);
        if (slot === undefined) {
          slot = slots.size;
          slots.set(itemId, slot);
        }
        slotsOfList[position] = slot;
      });
      listSlots.set(itemIds, slotsOfList);
    };
    addAll(pools.popular);
    addAll(pools.trending);
    addAll(pools.fresh);
    addAll(pools.live);
    pools.byCategory.forEach(addAll);
    index = { slots, listSlots, stamps: new Int32Array(slots.size), places: new Int32Array(slots.size), stamp: 0 };
    mergeIndexes.set(pools, index);
  }
  return index;
}

/**
 * One sources array per source, shared by every candidate that one source proposed: most
 * candidates have a single source, and a merge of 400 candidates allocated an array for each.
 * Nothing changes a candidate's sources after generation, and the freeze makes a change fail.
 */
const SINGLE_SOURCES = Object.fromEntries(CANDIDATE_SOURCES.map((source) => [source, Object.freeze([source])])) as unknown as Record<CandidateSource, CandidateSource[]>;

/**
 * Returns a new array of `sources` and `source`, because the first source's array is shared
 * (`SINGLE_SOURCES`). It is sized exactly: an array grown by `push` past one element takes room
 * for 17, about 150 bytes for each of the candidates that several sources propose.
 */
function withSource(sources: readonly CandidateSource[], source: CandidateSource): CandidateSource[] {
  const extended = new Array<CandidateSource>(sources.length + 1);
  for (let index = 0; index < sources.length; index++) {
    extended[index] = sources[index] as CandidateSource;
  }
  extended[sources.length] = source;
  return extended;
}

/** Merges source lists round-robin without repeats, stopping at `total` distinct items. */
function mergeRoundRobin(index: MergeIndex, lists: readonly SourceList[], total: number): Candidate[] {
  // Stamps wrap before the 32-bit limit; the stale marks are cleared then.
  if (index.stamp === 0x7fffffff) {
    index.stamp = 0;
    index.stamps.fill(0);
  }
  const stamp = ++index.stamp;
  const { slots, stamps, places } = index;
  // Items outside every pool: co-visitation neighbours, at most `limits.covisit` of them.
  let unpooled: Map<string, number> | undefined;
  const merged: Candidate[] = [];
  let longest = 0;
  for (let listIndex = 0; listIndex < lists.length; listIndex++) {
    const list = lists[listIndex] as SourceList;
    longest = Math.max(longest, Math.min(list.itemIds.length, list.limit));
  }
  for (let rank = 0; rank < longest; rank++) {
    for (let listIndex = 0; listIndex < lists.length; listIndex++) {
      const list = lists[listIndex] as SourceList;
      if (rank >= list.limit || rank >= list.itemIds.length) {
        continue;
      }
      const itemId = list.itemIds[rank] as string;
      const slot = list.slots === undefined ? slots.get(itemId) : list.slots[rank];
      let place: number | undefined;
      if (slot === undefined) {
        place = unpooled?.get(itemId);
      } else if (stamps[slot] === stamp) {
        place = places[slot];
      }
      const existing = place === undefined ? undefined : merged[place];
      if (existing !== undefined) {
        if (!existing.sources.includes(list.source)) {
          existing.sources = withSource(existing.sources, list.source);
        }
      } else if (merged.length < total) {
        if (slot === undefined) {
          (unpooled ??= new Map()).set(itemId, merged.length);
        } else {
          stamps[slot] = stamp;
          places[slot] = merged.length;
        }
        merged.push({ itemId, sources: SINGLE_SOURCES[list.source] });
      }
    }
  }
  return merged;
}

/**
 * Turns the request's candidates into candidates, dropping repeats and keeping the request's order.
 * The candidates share one sources array, which nothing changes after generation.
 */
export function requestCandidates(itemIds: readonly string[]): Candidate[] {
  const sources: CandidateSource[] = ['request'];
  // Builds the candidates while de-duplicating, in the order of first occurrence, as iterating the
  // set would, without the set iterator's result object per id.
  const unique = new Set<string>();
  const candidates: Candidate[] = new Array(itemIds.length);
  let count = 0;
  for (let index = 0; index < itemIds.length; index++) {
    const itemId = itemIds[index] as string;
    if (!unique.has(itemId)) {
      unique.add(itemId);
      candidates[count++] = { itemId, sources };
    }
  }
  candidates.length = count;
  return candidates;
}

/** Returns the categories with the highest positive affinity, best first, ties by name. */
export function topCategories(affinity: ReadonlyMap<string, number>, count: number): string[] {
  return [...affinity]
    .filter(([, value]) => value > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, count)
    .map(([category]) => category);
}

/**
 * Drops generated candidates whose item has no catalog record, with their snapshots. Co-visitation
 * links come from events, which may name any item id: without this, a session that taps a made-up
 * id after a popular item would put it in the feeds of everyone who taps that item. The pools
 * already hold cataloged items only (`PoolCache`).
 */
export function keepCataloged(candidates: readonly Candidate[], snapshots: readonly ItemSnapshot[]): { candidates: Candidate[]; snapshots: ItemSnapshot[] } {
  const cataloged: Candidate[] = [];
  const catalogedSnapshots: ItemSnapshot[] = [];
  for (let index = 0; index < candidates.length; index++) {
    const snapshot = snapshots[index] as ItemSnapshot;
    if (snapshot.catalog !== undefined) {
      cataloged.push(candidates[index] as Candidate);
      catalogedSnapshots.push(snapshot);
    }
  }
  return { candidates: cataloged, snapshots: catalogedSnapshots };
}
