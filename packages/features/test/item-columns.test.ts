import type { CatalogItem } from '@nexttap/events';
import { describe, expect, it } from 'vitest';
import {
  buildFeatureMatrix,
  catalogFactsOf,
  FEATURE_REGISTRY,
  ITEM_FIELDS,
  ITEM_STAT_FIELDS,
  itemColumnsOf,
  itemStatIndex,
  itemTypeField,
  ItemSnapshotBuilder,
  type ItemSnapshot,
  type SessionSnapshot,
} from '../src/index';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const PRIORS = { tapRate: 0.07, completionRate: 0.6 };

/** Builds a packed snapshot whose stat i is 1.5 + i · 0.37, at `landmarkMs`. */
function packedAt(landmarkMs: number, stats = ITEM_STAT_FIELDS.length): Float64Array {
  const packed = new Float64Array(stats + 1);
  packed[0] = landmarkMs;
  for (let index = 1; index <= stats; index++) {
    packed[index] = 1.5 + (index - 1) * 0.37;
  }
  return packed;
}

function buildItems(): ItemSnapshot[] {
  const catalogs: Array<CatalogItem | undefined> = [
    { itemId: 'a', categories: ['Drama', 'Comedy'], creatorId: 'studio-1', publishedAt: NOW_MS - 3_600_000, live: true },
    { itemId: 'b', categories: ['Comedy', 'Comedy', 'Horror', 'Sport', 'News'] },
    { itemId: 'c', categories: [] },
    undefined,
  ];
  const packed = [packedAt(NOW_MS - 7_200_000), packedAt(NOW_MS - 60_000), null, packedAt(NOW_MS - 60_000, 5)];
  const builder = new ItemSnapshotBuilder(catalogs.length, NOW_MS, PRIORS);
  return catalogs.map((catalog, index) => builder.build(`item-${index}`, packed[index] ?? null, catalog, index * 0.25, index % 2 === 0));
}

/** Delegates every field to `item`, so `itemColumnsOf` reads it through the `ItemSnapshot` getters. */
function throughGetters(item: ItemSnapshot): ItemSnapshot {
  return {
    itemId: item.itemId,
    catalog: item.catalog,
    facts: item.facts,
    stats: item.stats,
    positiveMinutes: item.positiveMinutes,
    positiveShort: item.positiveShort,
    positiveDay: item.positiveDay,
    positiveLong: item.positiveLong,
    impressions: item.impressions,
    taps: item.taps,
    likes: item.likes,
    interactions: item.interactions,
    covisitScore: item.covisitScore,
    seenInSession: item.seenInSession,
    priors: item.priors,
  };
}

function expectRowsMatch(items: readonly ItemSnapshot[]): void {
  const columns = itemColumnsOf(items);
  const day = (type: 'play' | 'complete' | 'skip' | 'hide'): number => itemStatIndex(itemTypeField(type, 'day'));
  expect(columns.rows).toBe(items.length);
  items.forEach((item, row) => {
    const label = `row ${row}`;
    expect(columns.positiveHour[row], label).toBe(item.positiveShort);
    expect(columns.positiveDay[row], label).toBe(item.positiveDay);
    expect(columns.positiveWeek[row], label).toBe(item.positiveLong);
    expect(columns.impressions[row], label).toBe(item.impressions);
    expect(columns.taps[row], label).toBe(item.taps);
    expect(columns.likes[row], label).toBe(item.likes);
    expect(columns.interactions[row], label).toBe(item.interactions);
    expect(columns.plays[row], label).toBe(item.stats.at(day('play')));
    expect(columns.completes[row], label).toBe(item.stats.at(day('complete')));
    expect(columns.skips[row], label).toBe(item.stats.at(day('skip')));
    expect(columns.hides[row], label).toBe(item.stats.at(day('hide')));
    expect(columns.dwellCount[row], label).toBe(item.stats.get(ITEM_FIELDS.dwellCountDay));
    expect(columns.dwellSeconds[row], label).toBe(item.stats.get(ITEM_FIELDS.dwellSecondsDay));
    expect(columns.covisitScore[row], label).toBe(item.covisitScore);
    expect(columns.seenInSession[row], label).toBe(item.seenInSession ? 1 : 0);
    expect(columns.tapRatePrior[row], label).toBe(PRIORS.tapRate);
    expect(columns.completionRatePrior[row], label).toBe(PRIORS.completionRate);
    const facts = item.catalog === undefined ? undefined : catalogFactsOf(item.catalog);
    expect(columns.hasPublishedAt[row], label).toBe(facts?.hasPublishedAt === true ? 1 : 0);
    expect(columns.publishedAtMs[row], label).toBe(facts?.hasPublishedAt === true ? facts.publishedAtMs : Number.NaN);
    expect(columns.live[row], label).toBe(facts?.live === true ? 1 : 0);
    expect(columns.categoryCount[row], label).toBe(facts?.categoryNumbers.length ?? Number.NaN);
    const categories = columns.categoryNumbers.subarray(columns.categoryStarts[row], columns.categoryStarts[row + 1]);
    expect([...categories], label).toEqual([...(facts?.categoryNumbers ?? [])]);
    expect(columns.creatorIds[row], label).toBe(facts?.creatorId);
  });
}

describe('itemColumnsOf', () => {
  it('equals the snapshot getters', () => {
    expectRowsMatch(buildItems());
  });

  it('follows a reordered subset', () => {
    const items = buildItems();

    expectRowsMatch([items[3], items[1], items[0], items[1]] as ItemSnapshot[]);
  });

  it('reads other snapshots through getters', () => {
    expectRowsMatch(buildItems().map(throughGetters));
  });

  it('grows the category array past its first size', () => {
    const items = buildItems();
    const many = Array.from({ length: 12 }, () => items[1] as ItemSnapshot);

    expectRowsMatch(many);
  });

  it('reads a stat missing from a short snapshot as 0', () => {
    const columns = itemColumnsOf(buildItems());

    expect(columns.positiveWeek[3]).toBeGreaterThan(0);
    expect(columns.interactions[3]).toBe(0);
  });
  it('writes into larger reused columns', () => {
    const items = buildItems();
    const reuse = itemColumnsOf([...items, ...items, ...items]);
    const columns = itemColumnsOf(items.slice(1, 3), reuse);

    expect(columns).toBe(reuse);
    expect(columns.rows).toBe(2);
    expect(columns.categoryStarts[2]).toBe(5);
    expect(columns.positiveWeek[1]).toBe((items[2] as ItemSnapshot).positiveLong);
  });

  it('allocates when reused columns are too small', () => {
    const items = buildItems();
    const small = itemColumnsOf(items.slice(0, 1));

    expect(itemColumnsOf(items, small)).not.toBe(small);
  });
});

describe('buildFeatureMatrix', () => {
  it('gives a small matrix after a large one', () => {
    const session: SessionSnapshot = {
      sessionId: 's',
      recent: [],
      categoryAffinity: new Map([['Comedy', 2]]),
      creatorAffinity: new Map(),
      interacted: new Set(),
      events: 1,
      lastTs: undefined,
      lastPositiveTs: undefined,
    };
    const items = buildItems();
    buildFeatureMatrix(FEATURE_REGISTRY, session, undefined, [...items, ...items, ...items], NOW_MS);
    const small = buildFeatureMatrix(FEATURE_REGISTRY, session, undefined, items.slice(2, 4), NOW_MS);

    FEATURE_REGISTRY.forEach((feature, column) => {
      items.slice(2, 4).forEach((item, row) => {
        const value = feature.compute({ session, user: undefined, item, nowMs: NOW_MS });
        const expected = Math.fround(value === undefined || !Number.isFinite(value) ? feature.defaultValue : value);
        expect(small.data[row * small.columns + column], `${feature.name} row ${row}`).toBe(expected);
      });
    });
  });
});
