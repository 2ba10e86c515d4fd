/**
 * The top lists one ranker produced, one row per evaluation point: `items[point * depth + position]`
 * is an item index, or -1 past the end of a short list.
 */
export interface TopLists {
  items: Int32Array;
  depth: number;
  points: number;
}

/**
 * Returns catalogue coverage@K: the share of the `catalogSize` items that appear in the first `k`
 * positions of at least one list; NaN for an empty catalogue.
 *
 * Coverage gets no bootstrap interval. It counts distinct items over all points, and a resample
 * drawn with replacement holds only about 63% of the distinct points, so resampled coverage sits
 * systematically below the estimate and its percentiles do not bracket it.
 */
export function catalogueCoverage(lists: TopLists, k: number, catalogSize: number): number {
  if (catalogSize === 0) {
    return Number.NaN;
  }
  const depth = Math.min(k, lists.depth);
  const covered = new Set<number>();
  for (let point = 0; point < lists.points; point++) {
    for (let position = 0; position < depth; position++) {
      const item = lists.items[point * lists.depth + position] as number;
      if (item < 0) {
        break;
      }
      covered.add(item);
    }
  }
  return covered.size / catalogSize;
}
