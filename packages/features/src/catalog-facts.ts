import type { CatalogItem } from '@nexttap/events';

/**
 * The fields of a catalog record that features and feed rules read for every candidate, in a
 * compact object built once per record. A feed reads a few hundred records scattered over the
 * heap. Timed per matrix column on a feed of 200 MovieLens candidates, the columns that read the
 * record's fields and category names took 10 to 15 times as long as the arithmetic columns.
 */
export interface CatalogFacts {
  /** `publishedAt` in epoch ms, or NaN when the record has none. */
  publishedAtMs: number;
  hasPublishedAt: boolean;
  live: boolean;
  /** `categoryNumber` of each category, in the record's order, repeats kept. */
  categoryNumbers: Int32Array;
  creatorId: string | undefined;
}

/**
 * The number of each category name, for the whole process. Numbers let a feed compare categories
 * as integers instead of hashing and comparing strings.
 * NOTE: the table keeps every distinct category name it has seen and is never trimmed, because a
 * number must keep its meaning while facts that carry it exist. Catalogs with a taxonomy of a few
 * thousand categories cost tens of kilobytes; one that sends millions of distinct names would
 * need a bound here.
 */
const numberByCategory = new Map<string, number>();

/**
 * Facts by record. `parseCatalogText` returns one object for one text, so a record read again
 * finds its facts here.
 */
const factsByCatalog = new WeakMap<CatalogItem, CatalogFacts>();

/** Returns the process-wide number of a category name, giving the next number to a new name. */
export function categoryNumber(category: string): number {
  let number = numberByCategory.get(category);
  if (number === undefined) {
    number = numberByCategory.size;
    numberByCategory.set(category, number);
  }
  return number;
}

/** Returns the facts of a catalog record, built on first use and kept while the record lives. */
export function catalogFactsOf(catalog: CatalogItem): CatalogFacts {
  let facts = factsByCatalog.get(catalog);
  if (facts === undefined) {
    const categoryNumbers = new Int32Array(catalog.categories.length);
    catalog.categories.forEach((category, index) => {
      categoryNumbers[index] = categoryNumber(category);
    });
    facts = {
      publishedAtMs: catalog.publishedAt ?? Number.NaN,
      hasPublishedAt: catalog.publishedAt !== undefined,
      live: catalog.live === true,
      categoryNumbers,
      creatorId: catalog.creatorId,
    };
    factsByCatalog.set(catalog, facts);
  }
  return facts;
}

/** Affinity maps keyed by number, by the map keyed by name, which snapshots never change. */
const numberedAffinities = new WeakMap<ReadonlyMap<string, number>, ReadonlyMap<number, number>>();

/**
 * Returns an affinity map keyed by category name as one keyed by `categoryNumber`, with the same
 * values, for lookups by the numbers of `CatalogFacts`. The result is kept with the map, so the
 * several category features of one request number it once.
 */
export function affinityByCategoryNumber(affinity: ReadonlyMap<string, number>): ReadonlyMap<number, number> {
  let byNumber = numberedAffinities.get(affinity);
  if (byNumber === undefined) {
    const numbered = new Map<number, number>();
    for (const [category, value] of affinity) {
      numbered.set(categoryNumber(category), value);
    }
    numberedAffinities.set(affinity, numbered);
    byNumber = numbered;
  }
  return byNumber;
}

/** Largest category number that `denseAffinityByCategoryNumber` gives an array entry. */
const DENSE_AFFINITY_MAX_NUMBER = 65_535;

/** Dense affinity arrays by the map keyed by name, which snapshots never change. */
const denseAffinities = new WeakMap<ReadonlyMap<string, number>, Float64Array | null>();

/**
 * Returns an affinity map keyed by category name as an array indexed by `categoryNumber`, 0 for
 * every other number, or undefined when one of its categories has a number above 65,535. A typed
 * array read costs less than a `Map` lookup per category of each of a few hundred candidates. The
 * bound keeps an array of a process that has numbered a huge taxonomy under 512 KB.
 */
export function denseAffinityByCategoryNumber(affinity: ReadonlyMap<string, number>): Float64Array | undefined {
  let dense = denseAffinities.get(affinity);
  if (dense === undefined) {
    let maxNumber = -1;
    for (const category of affinity.keys()) {
      maxNumber = Math.max(maxNumber, categoryNumber(category));
    }
    dense = maxNumber > DENSE_AFFINITY_MAX_NUMBER ? null : new Float64Array(maxNumber + 1);
    if (dense !== null) {
      for (const [category, value] of affinity) {
        dense[categoryNumber(category)] = value;
      }
    }
    denseAffinities.set(affinity, dense);
  }
  return dense ?? undefined;
}
