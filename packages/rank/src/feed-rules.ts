import type { CatalogItem } from '@nexttap/events';
import { catalogFactsOf, type CatalogFacts, type SessionSnapshot, type UserSnapshot } from '@nexttap/features';
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
  /** `catalogFactsOf(catalog)` when the caller has them. Without them the rules look them up. */
  facts?: CatalogFacts | undefined;
  impressions: number;
  taps: number;
  rules: RuleEffect[];
}

/**
 * The rule effects of an item that no rule moved: one frozen empty list shared by every item, so
 * that scoring 400 candidates allocates no list per item. `recordEffect` replaces it with a new
 * list, and the freeze makes any other change to it fail.
 */
export const NO_RULE_EFFECTS = Object.freeze([]) as unknown as RuleEffect[];

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

export { sortByScore } from './score-order';

/**
 * Compares numbers for a descending sort: -1 when `a` comes first, 1 when `b` does, 0 when they
 * are equal or either is NaN, the same order as `b - a`. It returns small integers because a sort
 * comparator that returns a fraction makes V8 allocate a heap number per comparison: about 130 MB
 * over a MovieLens replay in the co-visitation baseline alone, which the garbage collector frees.
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
  if (positions <= 0 || !items.some((item) => factsOf(item)?.live === true)) {
    return [...items];
  }
  const keyed = items.map((item, index) => ({ item, index, key: factsOf(item)?.live === true ? index - positions - 0.5 : index }));
  keyed.sort((a, b) => a.key - b.key);
  return keyed.map(({ item, index }, to) => {
    if (to < index) {
      recordEffect(item, { rule: 'live-boost', from: index, to });
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
  // Sized once: an array grown by `push` to 200 items copies itself about five times.
  const placed: ScoredItem[] = new Array<ScoredItem>(items.length);
  let placedCount = 0;
  const placedIndexes = new Int32Array(Math.min(items.length, depth));
  const counts = new WindowCounts(items, settings);
  while (placedCount < items.length && placedCount < depth) {
    // The window of the next position contains the last `window - 1` placed items.
    if (placedCount >= window) {
      counts.change(placedIndexes[placedCount - window] as number, -1);
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
    if (placedCount > chosen) {
      recordEffect(next, { rule: 'diversity', from: chosen, to: placedCount });
    }
    placed[placedCount] = next;
    placedIndexes[placedCount] = chosen;
    placedCount += 1;
    counts.change(chosen, 1);
  }
  for (let index = firstRemaining; index < items.length; index++) {
    if (taken[index] === 0) {
      placed[placedCount] = items[index] as ScoredItem;
      placedCount += 1;
    }
  }
  return placed;
}

/**
 * Items per category and per creator among the placed items of the current diversity window.
 * Categories and creators are numbered once per ranking, so that the many `fits` checks of a scan
 * read arrays of numbers instead of hashing strings. Items are numbered in order, up to the
 * furthest one a scan has reached: a scan stops at the first item that fits, so the items past
 * the last scanned one (of up to 400 candidates) are never numbered.
 */
class WindowCounts {
  private readonly items: readonly ScoredItem[];
  /** Items numbered so far: items 0 to `prepared - 1`. */
  private prepared = 0;
  /** Distinct category numbers of item i at `categoryNumbers[categoryStarts[i]]` up to `categoryStarts[i + 1]`. */
  private readonly categoryStarts: Int32Array;
  private readonly categoryNumbers: number[] = [];
  /** Creator number of each item, or -1 without a creator. */
  private readonly creatorNumbers: Int32Array;
  /** The stamp of this ranking in `categoryStamps` (`nextRankingStamp`). */
  private readonly stamp = nextRankingStamp();
  private localCategoryCount = 0;
  private readonly creatorNumberOf = new Map<string, number>();
  /** Items in the window per category number and per creator number; they grow as numbers are given. */
  private readonly categoryCounts: number[] = [];
  private readonly creatorCounts: number[] = [];
  private readonly maxPerCategory: number;
  private readonly maxPerCreator: number;

  constructor(items: readonly ScoredItem[], settings: FeedRuleSettings) {
    this.items = items;
    this.maxPerCategory = settings.diversityMaxPerCategory;
    this.maxPerCreator = settings.diversityMaxPerCreator;
    this.categoryStarts = new Int32Array(items.length + 1);
    this.creatorNumbers = new Int32Array(items.length);
  }

  /** Numbers the categories and the creator of every item up to item `index`. */
  private prepareThrough(index: number): void {
    for (; this.prepared <= index; this.prepared++) {
      const facts = factsOf(this.items[this.prepared] as ScoredItem);
      const start = this.categoryNumbers.length;
      for (const category of facts?.categoryNumbers ?? NO_CATEGORIES) {
        if (category >= localCategoryNumbers.length) {
          growCategoryTables(category);
        }
        let number: number;
        if (categoryStamps[category] === this.stamp) {
          number = localCategoryNumbers[category] as number;
        } else {
          number = this.localCategoryCount++;
          categoryStamps[category] = this.stamp;
          localCategoryNumbers[category] = number;
          this.categoryCounts.push(0);
        }
        // An item counts once per category, even when its record lists the category twice.
        if (this.categoryNumbers.indexOf(number, start) === -1) {
          this.categoryNumbers.push(number);
        }
      }
      this.categoryStarts[this.prepared + 1] = this.categoryNumbers.length;
      const creatorId = facts?.creatorId;
      let creator = -1;
      if (creatorId !== undefined) {
        creator = this.creatorNumberOf.get(creatorId) ?? -1;
        if (creator < 0) {
          creator = this.creatorNumberOf.size;
          this.creatorNumberOf.set(creatorId, creator);
          this.creatorCounts.push(0);
        }
      }
      this.creatorNumbers[this.prepared] = creator;
    }
  }

  /** Tells whether one more item like item `index` keeps every category and creator within the limits. */
  fits(index: number): boolean {
    if (index >= this.prepared) {
      this.prepareThrough(index);
    }
    for (let at = this.categoryStarts[index] as number; at < (this.categoryStarts[index + 1] as number); at++) {
      if ((this.categoryCounts[this.categoryNumbers[at] as number] as number) + 1 > this.maxPerCategory) {
        return false;
      }
    }
    const creator = this.creatorNumbers[index] as number;
    return creator < 0 || (this.creatorCounts[creator] as number) + 1 <= this.maxPerCreator;
  }

  /** Adds item `index` to the window (`delta` 1) or removes it (-1). */
  change(index: number, delta: number): void {
    if (index >= this.prepared) {
      this.prepareThrough(index);
    }
    for (let at = this.categoryStarts[index] as number; at < (this.categoryStarts[index + 1] as number); at++) {
      (this.categoryCounts[this.categoryNumbers[at] as number] as number) += delta;
    }
    const creator = this.creatorNumbers[index] as number;
    if (creator >= 0) {
      (this.creatorCounts[creator] as number) += delta;
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
  // Moves the chosen item to `position` and the items between down by one, as removing it and
  // inserting it again would, without the arrays that `splice` returns.
  const reordered = items.slice();
  const chosen = items[chosenIndex] as ScoredItem;
  for (let index = chosenIndex; index > position; index--) {
    reordered[index] = items[index - 1] as ScoredItem;
  }
  reordered[position] = chosen;
  recordEffect(chosen, { rule: 'exploration', from: chosenIndex, to: position });
  return reordered;
}

/** Tells whether an item is fresh or little-shown, and so may take the exploration slot. */
export function mayExplore(item: ScoredItem, settings: FeedRuleSettings, nowMs: number): boolean {
  const facts = factsOf(item);
  if (facts === undefined) {
    return false;
  }
  const fresh = facts.hasPublishedAt && nowMs - facts.publishedAtMs < settings.explorationFreshMs;
  return fresh || item.impressions < settings.explorationMaxImpressions;
}

const NO_CATEGORIES = new Int32Array(0);

/**
 * A ranking's own number of each process-wide category number, valid where `categoryStamps`
 * contains that ranking's stamp. One pair of arrays serves every ranking, because a ranking
 * numbers its categories synchronously, and a new stamp makes the entries of earlier rankings
 * stale without clearing them. A map per ranking cost a lookup per category of every scanned item.
 */
let localCategoryNumbers = new Int32Array(64);
let categoryStamps = new Int32Array(64);
let lastRankingStamp = 0;

function nextRankingStamp(): number {
  // Stamps wrap before the 32-bit limit; the stale marks are cleared then.
  if (lastRankingStamp === 0x7fffffff) {
    lastRankingStamp = 0;
    categoryStamps.fill(0);
  }
  lastRankingStamp += 1;
  return lastRankingStamp;
}

/** Grows the category tables to hold `category`, a process-wide category number. */
function growCategoryTables(category: number): void {
  const length = Math.max(category + 1, 2 * localCategoryNumbers.length);
  const numbers = new Int32Array(length);
  numbers.set(localCategoryNumbers);
  const stamps = new Int32Array(length);
  stamps.set(categoryStamps);
  localCategoryNumbers = numbers;
  categoryStamps = stamps;
}

/**
 * Adds a rule effect to an item. An item's first effect replaces its empty list with a list of
 * one, because V8 gives an empty array that grows by `push` room for 17 elements: about 150 bytes
 * for each of the many items that diversity moves.
 */
function recordEffect(item: ScoredItem, effect: RuleEffect): void {
  if (item.rules.length === 0) {
    item.rules = [effect];
  } else {
    item.rules.push(effect);
  }
}

function factsOf(item: ScoredItem): CatalogFacts | undefined {
  return item.facts ?? (item.catalog === undefined ? undefined : catalogFactsOf(item.catalog));
}
