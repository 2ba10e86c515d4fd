import type { CatalogItem } from '@nexttap/events';
import { describe, expect, it } from 'vitest';
import { buildFeatureMatrix, catalogFactsOf, categoryNumber, findFeature, ItemSnapshotBuilder, type FeatureDefinition, type SessionSnapshot, type UserSnapshot } from '../src/index';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const CATALOGS: Array<CatalogItem | undefined> = [
  { itemId: 'a', categories: ['Drama', 'Comedy'], creatorId: 'studio-1', publishedAt: NOW_MS - 86_400_000, live: true },
  { itemId: 'b', categories: ['Comedy', 'Comedy', 'Horror'] },
  { itemId: 'c', categories: [] },
  undefined,
];
const SESSION: SessionSnapshot = {
  sessionId: 's',
  recent: [],
  categoryAffinity: new Map([['Comedy', 2], ['Drama', -1], ['Sport', 4]]),
  creatorAffinity: new Map([['studio-1', 3]]),
  interacted: new Set(),
  events: 3,
  lastTs: NOW_MS - 1_000,
  lastPositiveTs: undefined,
};
const USER: UserSnapshot = { userId: 'u', categoryAffinity: new Map([['Horror', 0.5]]), creatorAffinity: new Map(), interacted: new Set() };

/** Computes the affinity share with lookups by name, NaN without categories. */
function expectedShare(catalog: CatalogItem | undefined, affinity: ReadonlyMap<string, number>, mode: 'sum' | 'max'): number {
  if (catalog === undefined || catalog.categories.length === 0) {
    return Number.NaN;
  }
  const total = [...affinity.values()].reduce((sum, value) => sum + Math.abs(value), 0);
  const shares = catalog.categories.map((category) => (affinity.get(category) ?? 0) / total);
  return mode === 'sum' ? shares.reduce((sum, share) => sum + share, 0) : Math.max(...shares);
}

function column(name: string): number[] {
  const builder = new ItemSnapshotBuilder(CATALOGS.length, NOW_MS, { tapRate: 0.1, completionRate: 0.5 });
  const items = CATALOGS.map((catalog, index) => builder.build(`item-${index}`, null, catalog, 0, false));
  const feature = findFeature(name) as FeatureDefinition;
  const matrix = buildFeatureMatrix([feature], SESSION, USER, items, NOW_MS);
  return [...matrix.data];
}

function withDefault(value: number, name: string): number {
  return Math.fround(Number.isFinite(value) ? value : (findFeature(name) as FeatureDefinition).defaultValue);
}

describe('catalog facts', () => {
  it('numbers one category name once', () => {
    expect(categoryNumber('Western')).toBe(categoryNumber('Western'));
    expect(categoryNumber('Western')).not.toBe(categoryNumber('Musical'));
  });

  it('keeps repeated categories and the record fields', () => {
    const facts = catalogFactsOf(CATALOGS[1] as CatalogItem);

    expect([...facts.categoryNumbers]).toEqual([categoryNumber('Comedy'), categoryNumber('Comedy'), categoryNumber('Horror')]);
    expect(facts.hasPublishedAt).toBe(false);
    expect(facts.live).toBe(false);
    expect(facts.creatorId).toBeUndefined();
  });

  it('returns the same facts for one record', () => {
    const catalog = CATALOGS[0] as CatalogItem;

    expect(catalogFactsOf(catalog)).toBe(catalogFactsOf(catalog));
  });
});

describe('affinity features over catalog facts', () => {
  it.each([
    ['session_category_affinity', SESSION.categoryAffinity, 'sum'],
    ['session_category_max', SESSION.categoryAffinity, 'max'],
    ['user_category_affinity', USER.categoryAffinity, 'sum'],
  ] as const)('computes %s as a lookup by name does', (name, affinity, mode) => {
    const expected = CATALOGS.map((catalog) => withDefault(expectedShare(catalog, affinity, mode), name));

    expect(column(name)).toEqual(expected);
  });

  it('gives the creator share only to items with a creator', () => {
    expect(column('session_creator_affinity')).toEqual([Math.fround(3 / 3), 0, 0, 0]);
  });

  it('reads the publish date, live flag and category count', () => {
    expect(column('item_has_publish_date')).toEqual([1, 0, 0, 0]);
    expect(column('item_live')).toEqual([1, 0, 0, 0]);
    expect(column('item_category_count')).toEqual([2, 3, 0, 0]);
    expect(column('item_age_days')[0]).toBeCloseTo(Math.log1p(1), 6);
  });
});
