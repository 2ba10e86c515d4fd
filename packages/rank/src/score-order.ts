import type { ScoredItem } from './feed-rules';

/**
 * Orders scored items: best score first, ties by item id so that equal scores keep one order.
 * Sorts `items` in place and returns it, as `Array.prototype.sort` does.
 */
export function sortByScore(items: ScoredItem[]): ScoredItem[] {
  if (items.length < 2) {
    return items;
  }
  const scores = new Float64Array(items.length);
  for (let index = 0; index < items.length; index++) {
    const score = (items[index] as ItemScore).score;
    if (!Number.isFinite(score)) {
      // A NaN difference reads as a tie in `compareScored`, which is no consistent order, so the
      // result is whatever the built-in sort makes of it.
      return items.sort(compareScored);
    }
    scores[index] = score;
  }
  const order = mergeSortIndexes(items, scores);
  const sorted = new Array<ScoredItem>(order.length);
  for (let index = 0; index < order.length; index++) {
    sorted[index] = items[order[index] as number] as ScoredItem;
  }
  for (let index = 0; index < sorted.length; index++) {
    items[index] = sorted[index] as ScoredItem;
  }
  return items;
}

type ItemScore = Pick<ScoredItem, 'itemId' | 'score'>;

function compareScored(a: ItemScore, b: ItemScore): number {
  return b.score - a.score || compareIds(a.itemId, b.itemId);
}

function compareIds(a: string, b: string): number {
  if (a < b) {
    return -1;
  }
  if (a > b) {
    return 1;
  }
  return 0;
}

/**
 * Returns the positions of `items` in `compareScored` order with a stable bottom-up merge sort
 * over the scores in a typed array. With finite scores that order is total up to repeated ids,
 * which stability keeps in input order as the built-in stable sort does, so both give the same
 * result. Comparing typed-array entries inline costs less than calling a comparator that reads
 * two item objects, which are scattered over the heap.
 */
function mergeSortIndexes(items: readonly ItemScore[], scores: Float64Array): Uint32Array {
  const length = items.length;
  let from = new Uint32Array(length);
  let to = new Uint32Array(length);
  for (let index = 0; index < length; index++) {
    from[index] = index;
  }
  for (let width = 1; width < length; width *= 2) {
    for (let start = 0; start < length; start += 2 * width) {
      const middle = Math.min(start + width, length);
      const end = Math.min(start + 2 * width, length);
      let left = start;
      let right = middle;
      for (let out = start; out < end; out++) {
        const takeLeft = right >= end || (left < middle && !comesBefore(items, scores, from[right] as number, from[left] as number));
        to[out] = takeLeft ? (from[left++] as number) : (from[right++] as number);
      }
    }
    [from, to] = [to, from];
  }
  return from;
}

/** Tells whether item `a` sorts strictly before item `b`. */
function comesBefore(items: readonly ItemScore[], scores: Float64Array, a: number, b: number): boolean {
  const difference = (scores[b] as number) - (scores[a] as number);
  if (difference !== 0) {
    return difference < 0;
  }
  return compareIds((items[a] as ItemScore).itemId, (items[b] as ItemScore).itemId) < 0;
}
