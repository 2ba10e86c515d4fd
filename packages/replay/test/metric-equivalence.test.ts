import { sortByScore, type ScoredItem } from '@nexttap/rank';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bootstrapMeanDistributions, forEachResample, intraListDiversity, ListQualityMeter, rankByScore, selfInformation, type BootstrapSettings } from '../src/index';

const ITEM_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];

describe('rankByScore', () => {
  it('orders as sortByScore does, ties included', () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(ITEM_IDS, { minLength: 1 }),
        fc.array(fc.constantFrom(0, 0.5, 1, 2, -1, 1e-300), { minLength: ITEM_IDS.length, maxLength: ITEM_IDS.length }),
        fc.nat(),
        fc.integer({ min: 1, max: 12 }),
        (itemIds, values, targetSeed, depth) => {
          const scores = itemIds.map((_, index) => values[index] as number);
          const scored = itemIds.map((itemId, index): ScoredItem => ({ itemId, score: scores[index] as number, sources: [], catalog: undefined, impressions: 0, taps: 0, rules: [] }));
          const sorted = sortByScore(scored).map((item) => item.itemId);
          const targetIndex = targetSeed % itemIds.length;
          const { rank, top } = rankByScore(scores, itemIds, targetIndex, depth);
          expect(top.map((index) => itemIds[index])).toEqual(sorted.slice(0, depth));
          expect(rank).toBe(sorted.indexOf(itemIds[targetIndex] as string) + 1);
        },
      ),
    );
  });

  it('orders equal scores by the tie-break, then by id', () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(ITEM_IDS, { minLength: 1 }),
        fc.array(fc.tuple(fc.constantFrom(0, 1, 2), fc.constantFrom(0, 0.5, 3)), { minLength: ITEM_IDS.length, maxLength: ITEM_IDS.length }),
        fc.nat(),
        fc.integer({ min: 1, max: 12 }),
        (itemIds, values, targetSeed, depth) => {
          const scores = itemIds.map((_, index) => (values[index] as [number, number])[0]);
          const tieBreak = itemIds.map((_, index) => (values[index] as [number, number])[1]);
          // The full order written out: score, then tie-break, both descending, then id ascending.
          const sorted = itemIds
            .map((itemId, index) => ({ itemId, score: scores[index] as number, tie: tieBreak[index] as number }))
            .sort((a, b) => b.score - a.score || b.tie - a.tie || (a.itemId < b.itemId ? -1 : 1))
            .map((item) => item.itemId);
          const targetIndex = targetSeed % itemIds.length;
          const { rank, top } = rankByScore(scores, itemIds, targetIndex, depth, tieBreak);
          expect(top.map((index) => itemIds[index])).toEqual(sorted.slice(0, depth));
          expect(rank).toBe(sorted.indexOf(itemIds[targetIndex] as string) + 1);
        },
      ),
    );
  });
});

describe('ListQualityMeter', () => {
  it('matches intraListDiversity and selfInformation exactly', () => {
    const categoryNames = Array.from({ length: 40 }, (_, index) => `category-${index}`);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...ITEM_IDS), fc.array(fc.constantFrom(...categoryNames), { maxLength: 5 })), { maxLength: 20 }),
        fc.array(fc.constantFrom(...ITEM_IDS), { maxLength: 30 }),
        fc.shuffledSubarray([...ITEM_IDS, 'unknown'], { maxLength: 8 }),
        (catalog, events, top) => {
          const meter = new ListQualityMeter();
          const categories = new Map<string, Set<string>>();
          for (const [itemId, itemCategories] of catalog) {
            meter.setCategories(itemId, itemCategories);
            categories.set(itemId, new Set(itemCategories));
          }
          const counts = new Map<string, number>();
          for (const itemId of events) {
            meter.countEvent(itemId);
            counts.set(itemId, (counts.get(itemId) ?? 0) + 1);
          }
          const ks = [1, 3, 5, 10];
          const quality = meter.measure(top, ks);
          ks.forEach((k, kIndex) => {
            const first = top.slice(0, k);
            const novelty = first.length === 0 ? Number.NaN : first.reduce((sum, itemId) => sum + selfInformation(counts.get(itemId) ?? 0, events.length), 0) / first.length;
            const diversity = intraListDiversity(first.map((itemId) => categories.get(itemId) ?? new Set<string>()));
            expect(quality.novelty[kIndex]).toBe(novelty);
            expect(quality.diversity[kIndex]).toBe(diversity);
          });
        },
      ),
    );
  });
});

describe('bootstrapMeanDistributions', () => {
  it('equals the mean of each resample computed directly', () => {
    const settings: BootstrapSettings = { resamples: 40, seed: 5, level: 0.9 };
    const points = 57;
    const columns = [
      Float64Array.from({ length: points }, (_, point) => (point % 3 === 0 ? 1 : 0)),
      Float64Array.from({ length: points }, (_, point) => (point % 4 === 0 ? Number.NaN : point / 7)),
      Float64Array.from({ length: points }, () => Number.NaN),
      // Mostly zero, like a hit rate: summed over its non-zero values only.
      Float64Array.from({ length: points }, (_, point) => (point % 10 === 0 ? 1 / (point + 1) : 0)),
      // Dense columns without NaN are summed four at a time, then one by one: five more make a
      // group of four and a remainder.
      ...[1, 2, 3, 4, 5].map((factor) => Float64Array.from({ length: points }, (_, point) => Math.sin(point * factor))),
    ];
    const expected = columns.map(() => [] as number[]);
    forEachResample(points, settings, (drawn, multiplicity, drawnCount) => {
      columns.forEach((column, columnIndex) => {
        let sum = 0;
        let weight = 0;
        for (let entry = 0; entry < drawnCount; entry++) {
          const value = column[drawn[entry] as number] as number;
          if (!Number.isNaN(value)) {
            sum += value * (multiplicity[entry] as number);
            weight += multiplicity[entry] as number;
          }
        }
        (expected[columnIndex] as number[]).push(weight === 0 ? Number.NaN : sum / weight);
      });
    });
    const distributions = bootstrapMeanDistributions(columns, settings);
    expect(distributions.map((distribution) => [...distribution])).toEqual(expected);
    expect(expected[2]?.every(Number.isNaN)).toBe(true);
  });
});
