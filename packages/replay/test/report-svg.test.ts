import { describe, expect, it } from 'vitest';
import { renderMetricsOverTime, type ReplayReport } from '../src/index';
import { T0 } from './fixtures';

/** Builds the parts of a report that the over-time chart reads: one ranker and its buckets, each at one time. */
function reportWithBuckets(secondsFromStart: readonly number[]): ReplayReport {
  const partial = {
    rankers: [{ name: 'popular' }],
    overTime: {
      k: 10,
      buckets: secondsFromStart.map((seconds) => ({ fromMs: T0 + seconds * 1000, toMs: T0 + seconds * 1000, points: 1, hitRate: { popular: 0.5 } })),
    },
  };
  return partial as unknown as ReplayReport;
}

/** Returns the x coordinates of the chart's points, in drawing order. */
function pointXs(svg: string): number[] {
  return [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((match) => Number(match[1]));
}

describe('renderMetricsOverTime', () => {
  it('places buckets by their time', () => {
    const [first, second, third] = pointXs(renderMetricsOverTime(reportWithBuckets([0, 30, 300])));
    // The second bucket is a tenth of the way from the first to the third.
    expect(((second as number) - (first as number)) / ((third as number) - (first as number))).toBeCloseTo(0.1, 2);
  });

  it('labels the axis with times of day', () => {
    const svg = renderMetricsOverTime(reportWithBuckets([0, 30, 300]));
    expect(svg).toContain('>00:00:00</text>');
    expect(svg).toContain('>00:05:00</text>');
  });
});
