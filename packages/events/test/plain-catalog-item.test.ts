import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { catalogItemValue } from '../../../test/fuzz-arbitraries';
import { catalogItemSchema, ITEM_KINDS, MAX_DURATION_MS, validateCatalogItem } from '../src/index';
import { parsePlainCatalogItem } from '../src/plain-catalog-item';

/** Ids of printable ASCII, including the edges: spaces around, quotes, backslashes, 128 and 129 characters. */
const asciiId = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 128 }),
  fc.constantFrom(' a', 'a ', '"', '\\', '~'.repeat(128), 'x'.repeat(129), ' ', ''),
);

/** Catalog items of the plain form with every optional field sometimes present, and some just outside it. */
const plainCandidate = fc.record(
  {
    itemId: asciiId,
    categories: fc.oneof(fc.array(fc.constantFrom('drama', 'comedy', 'Sci-Fi', 'x'.repeat(129)), { maxLength: 17 }), fc.constant('drama')),
    creatorId: asciiId,
    tags: fc.array(asciiId, { maxLength: 65 }),
    kind: fc.oneof(fc.constantFrom(...ITEM_KINDS), fc.constantFrom('VIDEO', 'toString', '')),
    title: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('t'.repeat(512), 't'.repeat(513), 'Amélie (2001)')),
    live: fc.oneof(fc.boolean(), fc.constantFrom('true', 1)),
    publishedAt: fc.oneof(
      fc.integer({ min: -5_364_662_400_001, max: 4_102_444_800_001 }),
      fc.constantFrom(0, 1e11 - 1, 1.5e12 + 0.5, '1995-01-01T00:00:00.000Z', '1995-02-30T00:00:00Z', '1995'),
    ),
    durationMs: fc.oneof(
      fc.integer({ min: -1, max: 10_800_000 }),
      fc.constantFrom(-0, 0.5, 31_622_400_000, 31_622_400_001, Number('9007199254740993'), 1e300, Number.NaN, Infinity),
    ),
  },
  { requiredKeys: ['itemId', 'categories'] },
);

/** Checks that the plain check agrees with the schema wherever it returns a value. */
function expectAgreement(raw: Record<string, unknown>): void {
  const plain = parsePlainCatalogItem(raw);
  if (plain === undefined) {
    return;
  }
  const parsed = catalogItemSchema.safeParse(raw);
  expect(parsed.success).toBe(true);
  expect(plain).toStrictEqual(parsed.data);
  expect(Object.keys(plain)).toEqual(Object.keys(parsed.data ?? {}));
}

describe('parsePlainCatalogItem', () => {
  it('agrees with the schema on plain candidates', () => {
    fc.assert(fc.property(plainCandidate, (raw) => expectAgreement(raw)), { numRuns: 5000 });
  });

  it('agrees with the schema on fuzzed items', () => {
    fc.assert(fc.property(catalogItemValue, (raw) => expectAgreement(raw as Record<string, unknown>)), { numRuns: 5000 });
  });

  it('accepts every schema-valid plain candidate', () => {
    fc.assert(
      fc.property(plainCandidate, (raw) => {
        const parsed = catalogItemSchema.safeParse(raw);
        if (parsed.success) {
          expect(parsePlainCatalogItem(raw)).toStrictEqual(parsed.data);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('leaves non-ASCII ids and unknown fields to the schema', () => {
    const movie = { itemId: '1', categories: ['Comedy', 'Comedy', 'Drama'], title: 'Toy Story (1995)', kind: 'movie', publishedAt: '1995-01-01T00:00:00.000Z' };
    expect(parsePlainCatalogItem(movie)).toStrictEqual({ itemId: '1', categories: ['Comedy', 'Drama'], kind: 'movie', title: 'Toy Story (1995)', publishedAt: Date.parse('1995-01-01T00:00:00Z') });
    expect(parsePlainCatalogItem({ ...movie, itemId: 'é' })).toBeUndefined();
    expect(parsePlainCatalogItem({ ...movie, categories: ['Comédie'] })).toBeUndefined();
    expect(parsePlainCatalogItem({ ...movie, live: undefined })).toBeUndefined();
    expect(parsePlainCatalogItem({ ...movie, extra: 1 })).toBeUndefined();
  });

  it('bounds durationMs at 366 days, as the schema does', () => {
    const item = { itemId: '1', categories: ['a'] };
    expect(parsePlainCatalogItem({ ...item, durationMs: MAX_DURATION_MS })).toStrictEqual({ ...item, durationMs: 31_622_400_000 });
    expect(parsePlainCatalogItem({ ...item, durationMs: MAX_DURATION_MS + 1 })).toBeUndefined();
    // JSON.parse rounds 9007199254740993 to 2^53, 9007199254740992.
    expect(parsePlainCatalogItem({ ...item, durationMs: Number('9007199254740993') })).toBeUndefined();
    expect(parsePlainCatalogItem({ ...item, durationMs: 1e300 })).toBeUndefined();
  });

  it('keeps the schema rejection messages', () => {
    const result = validateCatalogItem({ itemId: '1', categories: ['a'], durationMs: -1 });
    expect(result.ok).toBe(false);
    expect(result.ok ? undefined : result.rejection.field).toBe('durationMs');
  });
});
