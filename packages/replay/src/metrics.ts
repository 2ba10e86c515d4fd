/**
 * Ranking metrics of one evaluation point. Each point has one target item, the item the person
 * engaged with next; `rank` is its 1-based position in the ranked list, 0 when the list lacks it.
 */

/** HitRate@K of one point: 1 when the target is among the first `k` items, else 0. */
export function hitAtK(rank: number, k: number): number {
  return rank >= 1 && rank <= k ? 1 : 0;
}

/**
 * NDCG@K of one point with binary relevance: DCG is 1/log2(rank + 1) when the target is within the
 * first `k` items, and the ideal DCG of one relevant item is 1/log2(2) = 1.
 */
export function ndcgAtK(rank: number, k: number): number {
  return rank >= 1 && rank <= k ? 1 / Math.log2(rank + 1) : 0;
}

/** Reciprocal rank of one point over the whole list; 0 when the list lacks the target. */
export function reciprocalRank(rank: number): number {
  return rank >= 1 ? 1 / rank : 0;
}

/**
 * Self-information of recommending an item, in bits: −log2 of the item's share of the events
 * replayed so far, smoothed by one so that an item without events has a finite value.
 */
export function selfInformation(itemEvents: number, totalEvents: number): number {
  return -Math.log2((itemEvents + 1) / (totalEvents + 1));
}

/**
 * Intra-list diversity by category: the mean Jaccard distance 1 − |A ∩ B| / |A ∪ B| between the
 * category sets of every pair of items in the list. Two items without categories count as
 * distance 0. Returns NaN for a list of fewer than two items, where diversity is undefined.
 */
export function intraListDiversity(categorySets: readonly ReadonlySet<string>[]): number {
  const count = categorySets.length;
  if (count < 2) {
    return Number.NaN;
  }
  let total = 0;
  for (let first = 0; first < count; first++) {
    for (let second = first + 1; second < count; second++) {
      total += jaccardDistance(categorySets[first] as ReadonlySet<string>, categorySets[second] as ReadonlySet<string>);
    }
  }
  return total / ((count * (count - 1)) / 2);
}

function jaccardDistance(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let shared = 0;
  for (const category of a) {
    if (b.has(category)) {
      shared += 1;
    }
  }
  const union = a.size + b.size - shared;
  return union === 0 ? 0 : 1 - shared / union;
}

/**
 * Ranks items by score, highest first, ties by item id in UTF-16 order: the order `rankFeed`
 * serves. With `tieBreak`, items of equal score are ordered by it, highest first, before their
 * ids. Returns the 1-based rank of `targetIndex` and the indexes of the first `depth` items.
 */
export function rankByScore(
  scores: ArrayLike<number>,
  itemIds: readonly string[],
  targetIndex: number,
  depth: number,
  tieBreak?: ArrayLike<number>,
): { rank: number; top: number[] } {
  const before = (a: number, b: number) => {
    const scoreA = scores[a] as number;
    const scoreB = scores[b] as number;
    if (scoreA !== scoreB) {
      return scoreA > scoreB;
    }
    if (tieBreak !== undefined) {
      const tieA = tieBreak[a] as number;
      const tieB = tieBreak[b] as number;
      if (tieA !== tieB) {
        return tieA > tieB;
      }
    }
    return (itemIds[a] as string) < (itemIds[b] as string);
  };
  let rank = 0;
  if (targetIndex >= 0) {
    rank = 1;
    for (let index = 0; index < itemIds.length; index++) {
      if (index !== targetIndex && before(index, targetIndex)) {
        rank += 1;
      }
    }
  }
  return { rank, top: selectTop(itemIds.length, depth, before) };
}

/**
 * Returns the first `depth` of `count` indexes in the order `before`, by insertion into a short
 * sorted window. The window shifts its entries by hand: `splice` returns a new (empty) array per
 * insertion, about 70 MB over a MovieLens replay.
 */
function selectTop(count: number, depth: number, before: (a: number, b: number) => boolean): number[] {
  if (depth <= 0) {
    return [];
  }
  const top = new Array<number>(Math.min(depth, count));
  let length = 0;
  for (let index = 0; index < count; index++) {
    if (length === depth && !before(index, top[depth - 1] as number)) {
      continue;
    }
    // A full window drops its last entry to make room.
    let position = length < depth ? length : depth - 1;
    while (position > 0 && before(index, top[position - 1] as number)) {
      top[position] = top[position - 1] as number;
      position -= 1;
    }
    top[position] = index;
    if (length < depth) {
      length += 1;
    }
  }
  top.length = length;
  return top;
}
