/**
 * Kendall's tau-b between two score lists over the same items: +1 when both order every pair the
 * same way, −1 when every pair is reversed. Ties count in neither the concordant nor the discordant
 * pairs and shrink the denominator (tau-b). Returns undefined when either list is all ties or has
 * fewer than two items. O(n²), which is about 80,000 pairs for 400 candidates.
 */
export function kendallTau(first: ArrayLike<number>, second: ArrayLike<number>): number | undefined {
  const count = Math.min(first.length, second.length);
  let concordant = 0;
  let discordant = 0;
  let tiedFirst = 0;
  let tiedSecond = 0;
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      const a = Math.sign((first[i] as number) - (first[j] as number));
      const b = Math.sign((second[i] as number) - (second[j] as number));
      if (a === 0 && b === 0) {
        continue;
      }
      if (a === 0) {
        tiedFirst += 1;
      } else if (b === 0) {
        tiedSecond += 1;
      } else if (a === b) {
        concordant += 1;
      } else {
        discordant += 1;
      }
    }
  }
  const denominator = Math.sqrt((concordant + discordant + tiedFirst) * (concordant + discordant + tiedSecond));
  return denominator === 0 ? undefined : (concordant - discordant) / denominator;
}

/** Share of the top `k` items by the first scores that are also in the top `k` by the second, in [0, 1]. */
export function topKOverlap(first: ArrayLike<number>, second: ArrayLike<number>, k: number): number | undefined {
  const count = Math.min(first.length, second.length);
  const size = Math.min(k, count);
  if (size === 0) {
    return undefined;
  }
  const topFirst = topIndices(first, count, size);
  const topSecond = new Set(topIndices(second, count, size));
  return topFirst.filter((index) => topSecond.has(index)).length / size;
}

/** Indices of the `size` largest scores; ties keep the lower index first. */
function topIndices(scores: ArrayLike<number>, count: number, size: number): number[] {
  const indices = Array.from({ length: count }, (_, index) => index);
  indices.sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
  return indices.slice(0, size);
}
