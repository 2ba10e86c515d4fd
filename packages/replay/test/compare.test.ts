import { describe, expect, it } from 'vitest';
import { compareReports, formatPValue, renderComparison, type Comparison, type MetricDifference, type ReplayReport } from '../src/index';

/** Returns one row of a comparison with the given p-value and resamples. */
function difference(metric: string, pValue: number, resamples = 1000): MetricDifference {
  return {
    metric,
    rankerA: 'popular',
    rankerB: 'covisit',
    valueA: 0.02,
    valueB: 0.04,
    difference: { value: 0.02, low: 0.01, high: 0.03 },
    pValue,
    resamples,
    significant: pValue < 0.05,
  };
}

function comparison(differences: MetricDifference[]): Comparison {
  return { sharedPoints: 500, pointsOnlyInA: 0, pointsOnlyInB: 0, level: 0.95, resamples: 1000, differences, unpaired: { a: [], b: [] } };
}

/** Builds the parts of a report that `compareReports` reads: one baseline and its rank at each point. */
function reportWithRanks(ranks: number[]): ReplayReport {
  const partial = {
    settings: { ks: [10] },
    rankers: [{ name: 'popular', kind: 'baseline' }],
    evaluations: { keys: ranks.map((_, index) => `s${index}\te${index}`), ranks: { popular: ranks } },
  };
  return partial as unknown as ReplayReport;
}

describe('compareReports significance', () => {
  // Every point is a miss in A and a hit at rank 1 in B, so no resample falls at or below 0 and p is 0.
  const misses = reportWithRanks(Array.from({ length: 20 }, () => 0));
  const hits = reportWithRanks(Array.from({ length: 20 }, () => 1));

  it('marks nothing with too few resamples', () => {
    const comparison = compareReports(misses, hits, { resamples: 10, seed: 1, level: 0.95 });
    expect(comparison.differences.length).toBeGreaterThan(0);
    for (const row of comparison.differences) {
      expect(row.pValue).toBe(0);
      expect(row.significant).toBe(false);
    }
  });

  it('marks a difference with enough resamples', () => {
    const comparison = compareReports(misses, hits, { resamples: 100, seed: 1, level: 0.95 });
    for (const row of comparison.differences) {
      expect(row.significant).toBe(true);
    }
  });
});

describe('formatPValue', () => {
  const cases: Array<{ pValue: number; resamples: number; text: string }> = [
    { pValue: 0, resamples: 1000, text: '< 0.002' },
    { pValue: 0.002, resamples: 1000, text: '0.002' },
    { pValue: 0.5, resamples: 1000, text: '0.500' },
    { pValue: 1, resamples: 1000, text: '1.000' },
    { pValue: 0, resamples: 10_000, text: '< 0.0002' },
    { pValue: 0.0002, resamples: 10_000, text: '0.0002' },
    { pValue: 0, resamples: 3000, text: '< 0.0007' },
    { pValue: 0, resamples: 100, text: '< 0.020' },
    { pValue: 0, resamples: 1, text: '< 1.000' },
    { pValue: 0, resamples: 0, text: 'n/a' },
  ];
  for (const { pValue, resamples, text } of cases) {
    it(`prints ${pValue} over ${resamples} resamples as ${text}`, () => {
      expect(formatPValue({ pValue, resamples })).toBe(text);
    });
  }
});

describe('renderComparison', () => {
  it('prints a p-value of 0 as a bound', () => {
    const text = renderComparison(comparison([difference('MRR', 0)]), { a: 'a.json', b: 'b.json' });
    expect(text).toContain('| [0.0100, 0.0300] | < 0.002 | yes |');
    expect(text).not.toContain('0.000 |');
  });

  it('states the false positives expected by chance', () => {
    const rows = Array.from({ length: 14 }, (_, index) => difference(`metric ${index}`, 0.5));
    const text = renderComparison(comparison(rows), { a: 'a.json', b: 'b.json' });
    const lines = text.split('\n');
    const tableEnd = lines.findLastIndex((line) => line.startsWith('|'));
    expect(lines[tableEnd + 1]).toBe('');
    expect(lines[tableEnd + 2]).toBe(
      '14 differences tested. At p < 0.05 about 1 in 20 differences without a real effect comes out significant by chance, so about 0.7 of these 14 would be significant even if no pair of rankers differed.',
    );
  });

  it('counts a single difference', () => {
    const text = renderComparison(comparison([difference('MRR', 0.5)]), { a: 'a.json', b: 'b.json' });
    expect(text).toContain('\n1 difference tested. At p < 0.05 about 1 in 20 differences without a real effect comes out significant by chance.\n');
  });
});
