import type { CatalogItem } from '@nexttap/events';
import type { SessionSnapshot, UserSnapshot } from '@nexttap/features';
import type { Candidate, CandidateSource } from './candidates';
import { sampleTapRate } from './thompson';

/** Settings of the feed rules. Defaults are in `DEFAULT_FEED_RULES`; the ranker's config sets them. */
export interface FeedRuleSettings {
  /** Drops items the session or its user already engaged with (any event but an impression). */
  dropInteracted: boolean;
  /** Drops generated candidates served in the session's last N responses; 0 turns the rule off. */
  dropServedFeeds: number;
  /** Window of positions in which diversity is enforced; 0 or 1 turns the rule off. */
  diversityWindow: number;
  /** Items of one category allowed in any window. */
  diversityMaxPerCategory: number;
  /** Items of one creator allowed in any window. */
  diversityMaxPerCreator: number;
  /** Position (0-based) of the exploration slot; -1 turns exploration off. */
  explorationPosition: number;
  /** An item with fewer decayed impressions than this counts as little-shown and may explore. */
  explorationMaxImpressions: number;
  /** An item published less than this many ms ago counts as fresh and may explore. */
  explorationFreshMs: number;
  /** Positions a live item moves up; 0 turns the boost off. */
  liveBoostPositions: number;
}

export const DEFAULT_FEED_RULES: FeedRuleSettings = {
  dropInteracted: true,
  dropServedFeeds: 3,
  diversityWindow: 6,
  diversityMaxPerCategory: 4,
  diversityMaxPerCreator: 2,
  explorationPosition: 3,
  explorationMaxImpressions: 50,
  explorationFreshMs: 2 * 86_400_000,
  liveBoostPositions: 3,
};

export type OrderingRule = 'live-boost' | 'diversity' | 'exploration';

/** How one ordering rule moved an item: its position before and after the rule. */
export interface RuleEffect {
  rule: OrderingRule;
  from: number;
  to: number;
}

/** An item after scoring, as the ordering rules see it. */
export interface ScoredItem {
  itemId: string;
  score: number;
  sources: CandidateSource[];
  catalog: CatalogItem | undefined;
  impressions: number;
  taps: number;
  rules: RuleEffect[];
}

export interface FilterInput {
  session: SessionSnapshot;
  user: UserSnapshot | undefined;
  exclude: ReadonlySet<string>;
  /** Items served in the session's recent responses. */
  served: ReadonlySet<string>;
  /** True when the candidates were generated, false when the request sent them. */
  generated: boolean;
}

/**
 * Drops candidates before their features are read: excluded items, items the session or user
 * engaged with, and generated candidates served recently. A request's own candidates are not
 * dropped for being served, because the app chose to show them again.
 */
export function filterCandidates(candidates: readonly Candidate[], input: FilterInput, settings: FeedRuleSettings): Candidate[] {
  return candidates.filter(({ itemId }) => {
    if (input.exclude.has(itemId)) {
      return false;
    }
    if (settings.dropInteracted && (input.session.interacted.has(itemId) || (input.user?.interacted.has(itemId) ?? false))) {
      return false;
    }
    return !(input.generated && settings.dropServedFeeds > 0 && input.served.has(itemId));
  });
}

/** Orders scored items: best score first, ties by item id so that equal scores keep one order. */
export function sortByScore(items: ScoredItem[]): ScoredItem[] {
  return items.sort((a, b) => compareDescending(a.score, b.score) || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
}

/**
 * Compares numbers for a descending sort: -1 when `a` comes first, 1 when `b` does, 0 when they
 * are equal or either is NaN, the same order as `b - a`. It returns small integers because a sort
 * comparator that returns a fraction makes V8 allocate a heap number per comparison: about 150 MB
 * over a MovieLens replay, which the garbage collector then copies and frees.
 */
export function compareDescending(a: number, b: number): number {
  if (a > b) {
    return -1;
  }
  if (a < b) {
    return 1;
  }
  return 0;
}

/**
 * Applies the ordering rules to items sorted by score, in order: live boost, diversity over the
 * first `depth` positions, then the exploration slot. Each rule records how it moved an item.
 */
export function applyOrderingRules(
  sorted: readonly ScoredItem[],
  settings: FeedRuleSettings,
  context: { nowMs: number; depth: number; random: () => number },
): ScoredItem[] {
  const boosted = boostLiveItems(sorted, settings.liveBoostPositions);
  const diverse = diversify(boosted, settings, context.depth);
  return placeExplorationItem(diverse, settings, context);
}

/** Moves each live item up by `positions`; a live item wins a tie with the item it reaches. */
export function boostLiveItems(items: readonly ScoredItem[], positions: number): ScoredItem[] {
  if (positions <= 0 || !items.some((item) => item.catalog?.live === true)) {
    return [...items];
  }
  const keyed = items.map((item, index) => ({ item, index, key: item.catalog?.live === true ? index - positions - 0.5 : index }));
  keyed.sort((a, b) => a.key - b.key);
  return keyed.map(({ item, index }, to) => {
    if (to < index) {
      item.rules.push({ rule: 'live-boost', from: index, to });
    }
    return item;
  });
}

/**
 * Re-orders the first `depth` positions so that no window of `diversityWindow` positions holds more
 * than the allowed items of one category or one creator: each position takes the best remaining
 * item that fits. When no remaining item fits, the best remaining item is taken anyway, because a
 * short feed is worse than a repetitive one.
 */
export function diversify(items: readonly ScoredItem[], settings: FeedRuleSettings, depth: number): ScoredItem[] {
  const window = settings.diversityWindow;
  if (window <= 1) {
    return [...items];
  }
  // Items stay in place and are marked when placed, so that the best remaining item is the first
  // unmarked one and no array is spliced per position.
  const taken = new Uint8Array(items.length);
  let firstRemaining = 0;
  const placed: ScoredItem[] = [];
  const placedIndexes: number[] = [];
  const counts = new WindowCounts(items, settings);
  try {
    while (placed.length < items.length && placed.length < depth) {
      // The window of the next position contains the last `window - 1` placed items.
      if (placed.length >= window) {
        counts.change(placedIndexes[placed.length - window] as number, -1);
      }
      while (taken[firstRemaining] === 1) {
        firstRemaining += 1;
      }
      let chosen = firstRemaining;
      for (let index = firstRemaining; index < items.length; index++) {
        if (taken[index] === 0 && counts.fits(index)) {
          chosen = index;
          break;
        }
      }
      taken[chosen] = 1;
      const next = items[chosen] as ScoredItem;
      if (placed.length > chosen) {
        next.rules.push({ rule: 'diversity', from: chosen, to: placed.length });
      }
      placed.push(next);
      placedIndexes.push(chosen);
      counts.change(chosen, 1);
    }
  } finally {
    counts.release();
  }
  for (let index = firstRemaining; index < items.length; index++) {
    if (taken[index] === 0) {
      placed.push(items[index] as ScoredItem);
    }
  }
  return placed;
}

/** Category and creator numbers of one catalog record, in the numbering of `SharedNumbers`. */
interface RecordNumbers {
  /** Distinct category numbers. */
  categories: Int32Array;
  /** Creator number, or -1 without a creator. */
  creator: number;
}

/**
 * Numbers for categories and creators shared by every ranking of the process, with per-number
 * window counts. A record is numbered once and its numbers are kept with it (records come from
 * the catalog cache, so the same item is the same object across requests), instead of hashing its
 * strings again in every ranking. The counts are all 0 between rankings: a ranking runs without
 * yielding and `WindowCounts.release` clears what it changed.
 */
class SharedNumbers {
  /** Past this many categories and creators the numbering starts over, so that a catalog with ever new names cannot grow it without bound. */
  private static readonly MAX_NAMES = 100_000;
  private categoryNumberOf = new Map<string, number>();
  private creatorNumberOf = new Map<string, number>();
  private byRecord = new WeakMap<CatalogItem, RecordNumbers>();
  categoryCounts: Int32Array = new Int32Array(64);
  creatorCounts: Int32Array = new Int32Array(64);

  /** Starts a ranking. No count is held between rankings, so the numbering may start over here. */
  begin(): void {
    if (this.categoryNumberOf.size + this.creatorNumberOf.size > SharedNumbers.MAX_NAMES) {
      this.categoryNumberOf = new Map();
      this.creatorNumberOf = new Map();
      this.byRecord = new WeakMap();
      this.categoryCounts = new Int32Array(64);
      this.creatorCounts = new Int32Array(64);
    }
  }

  of(catalog: CatalogItem): RecordNumbers {
    let numbers = this.byRecord.get(catalog);
    if (numbers === undefined) {
      // An item counts once per category, even when its record lists the category twice.
      const categories = [...new Set(catalog.categories.map((category) => this.categoryNumber(category)))];
      const creator = catalog.creatorId === undefined ? -1 : this.creatorNumber(catalog.creatorId);
      numbers = { categories: Int32Array.from(categories), creator };
      this.byRecord.set(catalog, numbers);
    }
    return numbers;
  }

  private categoryNumber(category: string): number {
    let number = this.categoryNumberOf.get(category);
    if (number === undefined) {
      number = this.categoryNumberOf.size;
      this.categoryNumberOf.set(category, number);
      if (number >= this.categoryCounts.length) {
        this.categoryCounts = grown(this.categoryCounts);
      }
    }
    return number;
  }

  private creatorNumber(creatorId: string): number {
    let number = this.creatorNumberOf.get(creatorId);
    if (number === undefined) {
      number = this.creatorNumberOf.size;
      this.creatorNumberOf.set(creatorId, number);
      if (number >= this.creatorCounts.length) {
        this.creatorCounts = grown(this.creatorCounts);
      }
    }
    return number;
  }
}

function grown(counts: Int32Array): Int32Array {
  const larger = new Int32Array(counts.length * 2);
  larger.set(counts);
  return larger;
}

const SHARED_NUMBERS = new SharedNumbers();
const NO_NUMBERS: RecordNumbers = { categories: new Int32Array(0), creator: -1 };

/**
 * Items per category and per creator among the placed items of the current diversity window, in
 * the shared counts of `SharedNumbers`. Items are looked up in order, up to the furthest one a
 * scan has reached. A scan stops at the first item that fits, so the items past the last scanned
 * one (of up to 400 candidates) are never looked up.
 */
class WindowCounts {
  private readonly items: readonly ScoredItem[];
  private readonly numbers: RecordNumbers[] = [];
  /** Items in the window, whose counts `release` takes back. */
  private readonly counted = new Set<number>();
  private readonly maxPerCategory: number;
  private readonly maxPerCreator: number;

  constructor(items: readonly ScoredItem[], settings: FeedRuleSettings) {
    this.items = items;
    this.maxPerCategory = settings.diversityMaxPerCategory;
    this.maxPerCreator = settings.diversityMaxPerCreator;
    SHARED_NUMBERS.begin();
  }

  private numbersOf(index: number): RecordNumbers {
    while (this.numbers.length <= index) {
      const catalog = (this.items[this.numbers.length] as ScoredItem).catalog;
      this.numbers.push(catalog === undefined ? NO_NUMBERS : SHARED_NUMBERS.of(catalog));
    }
    return this.numbers[index] as RecordNumbers;
  }

  /** Tells whether one more item like item `index` keeps every category and creator within the limits. */
  fits(index: number): boolean {
    const { categories, creator } = this.numbersOf(index);
    const categoryCounts = SHARED_NUMBERS.categoryCounts;
    for (let at = 0; at < categories.length; at++) {
      if ((categoryCounts[categories[at] as number] as number) + 1 > this.maxPerCategory) {
        return false;
      }
    }
    return creator < 0 || (SHARED_NUMBERS.creatorCounts[creator] as number) + 1 <= this.maxPerCreator;
  }

  /** Adds item `index` to the window (`delta` 1) or removes it (-1). */
  change(index: number, delta: number): void {
    const { categories, creator } = this.numbersOf(index);
    const categoryCounts = SHARED_NUMBERS.categoryCounts;
    for (let at = 0; at < categories.length; at++) {
      (categoryCounts[categories[at] as number] as number) += delta;
    }
    if (creator >= 0) {
      (SHARED_NUMBERS.creatorCounts[creator] as number) += delta;
    }
    if (delta > 0) {
      this.counted.add(index);
    } else {
      this.counted.delete(index);
    }
  }

  /** Takes the items still in the window out of the shared counts, leaving them all 0. */
  release(): void {
    for (const index of this.counted) {
      this.change(index, -1);
    }
  }
}

/**
 * Gives the exploration slot to one fresh or little-shown item ranked below it (within `depth`), chosen
 * by Thompson sampling over tap-through rates.
 */
export function placeExplorationItem(
  items: readonly ScoredItem[],
  settings: FeedRuleSettings,
  context: { nowMs: number; depth: number; random: () => number },
): ScoredItem[] {
  const position = settings.explorationPosition;
  if (position < 0 || items.length <= position + 1) {
    return [...items];
  }
  let chosenIndex = -1;
  let bestDraw = -1;
  const end = Math.min(items.length, context.depth);
  for (let index = position + 1; index < end; index++) {
    const item = items[index] as ScoredItem;
    if (!mayExplore(item, settings, context.nowMs)) {
      continue;
    }
    const draw = sampleTapRate(item.taps, item.impressions, context.random);
    if (draw > bestDraw) {
      bestDraw = draw;
      chosenIndex = index;
    }
  }
  if (chosenIndex < 0) {
    return [...items];
  }
  const reordered = [...items];
  const [chosen] = reordered.splice(chosenIndex, 1) as [ScoredItem];
  reordered.splice(position, 0, chosen);
  chosen.rules.push({ rule: 'exploration', from: chosenIndex, to: position });
  return reordered;
}

/** Tells whether an item is fresh or little-shown, and so may take the exploration slot. */
export function mayExplore(item: ScoredItem, settings: FeedRuleSettings, nowMs: number): boolean {
  if (item.catalog === undefined) {
    return false;
  }
  const publishedAt = item.catalog.publishedAt;
  const fresh = publishedAt !== undefined && nowMs - publishedAt < settings.explorationFreshMs;
  return fresh || item.impressions < settings.explorationMaxImpressions;
}
