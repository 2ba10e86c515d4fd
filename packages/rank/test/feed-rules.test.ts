import type { SessionSnapshot } from '@nexttap/features';
import { describe, expect, it } from 'vitest';
import {
  boostLiveItems,
  DEFAULT_FEED_RULES,
  diversify,
  EMPTY_POOLS,
  fallbackFeed,
  filterCandidates,
  generateCandidates,
  mergeNeighbours,
  placeExplorationItem,
  sampleBeta,
  seededRandom,
  StoreBudget,
  StoreBudgetExceededError,
  type ScoredItem,
} from '../src/index';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');

function item(itemId: string, categories: string[], extra: Partial<ScoredItem> = {}): ScoredItem {
  return { itemId, score: 0, sources: ['request'], catalog: { itemId, categories }, impressions: 1_000, taps: 10, rules: [], ...extra };
}

function session(overrides: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return {
    sessionId: 's',
    recent: [],
    categoryAffinity: new Map(),
    creatorAffinity: new Map(),
    interacted: new Set(),
    events: 0,
    lastTs: undefined,
    lastPositiveTs: undefined,
    ...overrides,
  };
}

describe('diversify', () => {
  const rules = { ...DEFAULT_FEED_RULES, diversityWindow: 3, diversityMaxPerCategory: 1 };

  it('takes the best item that fits each position', () => {
    const items = [item('a1', ['A']), item('a2', ['A']), item('b1', ['B']), item('c1', ['C']), item('a3', ['A'])];
    expect(diversify(items, rules, 10).map((entry) => entry.itemId)).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
  });

  it('records the positions an item lost', () => {
    const items = [item('a1', ['A']), item('a2', ['A']), item('b1', ['B'])];
    const [, , third] = diversify(items, rules, 10);
    expect(third?.itemId).toBe('a2');
    expect(third?.rules).toEqual([{ rule: 'diversity', from: 1, to: 2 }]);
  });

  it('takes the best item when none fits', () => {
    const items = [item('a1', ['A']), item('a2', ['A'])];
    expect(diversify(items, rules, 10).map((entry) => entry.itemId)).toEqual(['a1', 'a2']);
  });

  it('leaves items past the depth in order', () => {
    const items = [item('a1', ['A']), item('a2', ['A']), item('a3', ['A']), item('b1', ['B'])];
    expect(diversify(items, rules, 1).map((entry) => entry.itemId)).toEqual(['a1', 'a2', 'a3', 'b1']);
  });

  it('counts a category listed twice once', () => {
    const twice = { ...rules, diversityMaxPerCategory: 2 };
    const items = [item('a1', ['A', 'A']), item('a2', ['A']), item('b1', ['B'])];
    expect(diversify(items, twice, 10).map((entry) => entry.itemId)).toEqual(['a1', 'a2', 'b1']);
  });

  it('keeps counting after thousands of category names', () => {
    const many = Array.from({ length: 5_000 }, (_, index) => item(`m${index}`, [`category-${index}`]));
    expect(diversify(many, rules, 10).map((entry) => entry.itemId)).toEqual(many.map((entry) => entry.itemId));
    const items = [item('a1', ['A']), item('a2', ['A']), item('b1', ['B']), item('c1', ['C']), item('a3', ['A'])];
    expect(diversify(items, rules, 10).map((entry) => entry.itemId)).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
    const reused = [item('x1', ['category-1']), item('x2', ['category-1']), item('y1', ['category-4999'])];
    expect(diversify(reused, rules, 10).map((entry) => entry.itemId)).toEqual(['x1', 'y1', 'x2']);
  });
});

describe('boostLiveItems', () => {
  it('moves a live item up and wins the tie', () => {
    const items = ['x0', 'x1', 'x2', 'x3'].map((itemId) => item(itemId, ['A']));
    const live = item('live', ['A'], { catalog: { itemId: 'live', categories: ['A'], live: true } });
    const boosted = boostLiveItems([...items, live], 2);
    expect(boosted.map((entry) => entry.itemId)).toEqual(['x0', 'x1', 'live', 'x2', 'x3']);
    expect(live.rules).toEqual([{ rule: 'live-boost', from: 4, to: 2 }]);
  });
});

describe('placeExplorationItem', () => {
  const rules = { ...DEFAULT_FEED_RULES, explorationPosition: 1, explorationMaxImpressions: 50, explorationFreshMs: 0 };

  it('places one little-shown item in the slot', () => {
    const items = [item('top', ['A']), item('second', ['A']), item('new', ['A'], { impressions: 0, taps: 0 }), item('last', ['A'])];
    const placed = placeExplorationItem(items, rules, { nowMs: NOW_MS, depth: 10, random: seededRandom(1) });
    expect(placed.map((entry) => entry.itemId)).toEqual(['top', 'new', 'second', 'last']);
    expect(placed[1]?.rules).toEqual([{ rule: 'exploration', from: 2, to: 1 }]);
  });

  it('leaves the feed alone without an eligible item', () => {
    const items = [item('top', ['A']), item('second', ['A']), item('third', ['A'])];
    const placed = placeExplorationItem(items, rules, { nowMs: NOW_MS, depth: 10, random: seededRandom(1) });
    expect(placed.map((entry) => entry.itemId)).toEqual(['top', 'second', 'third']);
  });

  it('prefers the higher tap-through rate over many draws', () => {
    const wins = { good: 0, poor: 0 };
    const random = seededRandom(3);
    for (let round = 0; round < 400; round++) {
      const items = [
        item('top', ['A']),
        item('poor', ['A'], { impressions: 40, taps: 0 }),
        item('good', ['A'], { impressions: 40, taps: 20 }),
      ];
      const chosen = placeExplorationItem(items, rules, { nowMs: NOW_MS, depth: 10, random })[1]?.itemId as 'good' | 'poor';
      wins[chosen] += 1;
    }
    expect(wins.good).toBeGreaterThan(wins.poor * 5);
  });
});

describe('sampleBeta', () => {
  // The closed-form CDFs of Beta(1, b), 1 − (1 − x)^b, and of Beta(a, 1), x^a, at a few points.
  it.each([
    { alpha: 1, beta: 9, cdf: (x: number) => 1 - (1 - x) ** 9 },
    { alpha: 1, beta: 59, cdf: (x: number) => 1 - (1 - x) ** 59 },
    { alpha: 4, beta: 1, cdf: (x: number) => x ** 4 },
  ])('follows the Beta($alpha, $beta) CDF', ({ alpha, beta, cdf }) => {
    const random = seededRandom(5);
    const draws = Array.from({ length: 20_000 }, () => sampleBeta(alpha, beta, random));
    for (const quantile of [0.1, 0.25, 0.5, 0.75, 0.9]) {
      // The x at which the CDF reaches the quantile, found by bisection.
      let low = 0;
      let high = 1;
      for (let step = 0; step < 60; step++) {
        const middle = (low + high) / 2;
        if (cdf(middle) < quantile) {
          low = middle;
        } else {
          high = middle;
        }
      }
      const share = draws.filter((draw) => draw <= low).length / draws.length;
      // 20,000 draws give a standard error of at most 0.0035 for a share.
      expect(Math.abs(share - quantile)).toBeLessThan(0.015);
    }
  });

  it('draws with the Beta mean', () => {
    const random = seededRandom(11);
    for (const [alpha, beta] of [[1, 9], [0.5, 0.5], [30, 10]] as const) {
      let sum = 0;
      for (let draw = 0; draw < 20_000; draw++) {
        const value = sampleBeta(alpha, beta, random);
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1);
        sum += value;
      }
      expect(sum / 20_000).toBeCloseTo(alpha / (alpha + beta), 2);
    }
  });
});

describe('filterCandidates', () => {
  const candidates = ['tapped', 'served', 'excluded', 'kept'].map((itemId) => ({ itemId, sources: ['trending' as const] }));
  const input = {
    session: session({ interacted: new Set(['tapped']) }),
    user: undefined,
    exclude: new Set(['excluded']),
    served: new Set(['served']),
  };

  it('drops tapped, served and excluded items', () => {
    expect(filterCandidates(candidates, { ...input, generated: true }, DEFAULT_FEED_RULES).map((entry) => entry.itemId)).toEqual(['kept']);
  });

  it('keeps served items the request sent', () => {
    expect(filterCandidates(candidates, { ...input, generated: false }, DEFAULT_FEED_RULES).map((entry) => entry.itemId)).toEqual(['served', 'kept']);
  });
});

describe('generateCandidates', () => {
  const pools = {
    ...EMPTY_POOLS,
    trending: ['t1', 't2', 't3'],
    popular: ['p1', 't1', 'p2'],
    fresh: ['f1'],
    live: ['l1'],
  };

  it('merges sources round-robin and lists each source', () => {
    const candidates = generateCandidates(pools, session(), undefined, undefined, ['c1', 'c2']);
    expect(candidates.map((candidate) => candidate.itemId)).toEqual(['c1', 't1', 'l1', 'f1', 'p1', 'c2', 't2', 't3', 'p2']);
    expect(candidates.find((candidate) => candidate.itemId === 't1')?.sources).toEqual(['trending', 'popular']);
  });

  it('keeps a share of every source under the cap', () => {
    const limits = { covisit: 10, popular: 10, trending: 10, live: 10, fresh: 10, topCategories: 0, perCategory: 0, total: 4 };
    const candidates = generateCandidates(pools, session(), undefined, limits, ['c1', 'c2']);
    expect(candidates.map((candidate) => candidate.sources[0])).toEqual(['covisit', 'trending', 'live', 'fresh']);
  });
});

describe('mergeNeighbours', () => {
  it('weights newer seeds more and drops the seeds', () => {
    const results = [
      { kind: 'zsetTop' as const, value: [{ member: 'x', score: 8 }, { member: 'seed-2', score: 4 }], landmarkMs: 0 },
      { kind: 'zsetTop' as const, value: [{ member: 'y', score: 1000 }, { member: 'x', score: 500 }], landmarkMs: 0 },
    ];
    expect(mergeNeighbours(['seed-1', 'seed-2'], results)).toEqual(['x', 'y']);
  });
});

describe('fallbackFeed', () => {
  it('orders requested candidates by the pool copy', () => {
    const pools = { ...EMPTY_POOLS, trending: ['b'], popular: ['c'] };
    const feed = fallbackFeed({ sessionId: 's', limit: 10, candidates: ['a', 'c', 'b'], exclude: ['x'] }, pools, DEFAULT_FEED_RULES, {
      reason: 'store-timeout',
      message: 'timed out',
    });
    expect(feed.items.map((entry) => entry.itemId)).toEqual(['b', 'c', 'a']);
    expect(feed.items.map((entry) => entry.score)).toEqual([1, 1 / 2, 1 / 3]);
    expect(feed.degraded?.reason).toBe('store-timeout');
  });
});

describe('StoreBudget', () => {
  it('rejects a read that outlasts the budget', async () => {
    const budget = new StoreBudget(20);
    const never = new Promise<never>(() => undefined);
    await expect(budget.race(never)).rejects.toBeInstanceOf(StoreBudgetExceededError);
    await expect(budget.race(Promise.resolve(1))).rejects.toBeInstanceOf(StoreBudgetExceededError);
  });

  it('passes a read that answers in time', async () => {
    await expect(new StoreBudget(1_000).race(Promise.resolve('value'))).resolves.toBe('value');
  });
});
