import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortByScore, type ScoredItem } from '../src/index';

function scored(itemId: string, score: number): ScoredItem {
  return { itemId, score, sources: ['request'], catalog: undefined, impressions: 0, taps: 0, rules: [] };
}

function compareIds(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  return a < b ? -1 : 1;
}

/** Sorts as `sortByScore` promises, with the built-in stable sort. */
function referenceOrder(items: readonly ScoredItem[]): ScoredItem[] {
  return [...items].sort((a, b) => b.score - a.score || compareIds(a.itemId, b.itemId));
}

describe('sortByScore', () => {
  it('orders as the comparator sort does', () => {
    // Few distinct scores and ids make ties and repeated ids common.
    const entries = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.constantFrom(0, -0, 0.25, 0.5, 1, -1, 1e-300)), { maxLength: 60 });
    fc.assert(
      fc.property(entries, (pairs) => {
        const items = pairs.map(([itemId, score]) => scored(itemId, score));
        const expected = referenceOrder(items);

        const result = sortByScore(items);

        expect(result).toBe(items);
        result.forEach((item, index) => expect(item).toBe(expected[index]));
      }),
    );
  });

  it('keeps repeated ids with equal scores in input order', () => {
    const first = scored('x', 0.5);
    const second = scored('x', 0.5);

    const result = sortByScore([scored('y', 0.1), first, second]);

    expect(result[0]).toBe(first);
    expect(result[1]).toBe(second);
  });

  it('sorts a ranking with a NaN score as the built-in sort does', () => {
    const items = ['a', 'b', 'c', 'd'].map((itemId, index) => scored(itemId, index === 2 ? Number.NaN : index));
    const expected = referenceOrder(items);

    expect(sortByScore(items)).toEqual(expected);
  });
});
