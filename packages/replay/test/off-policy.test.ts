import { describe, expect, it } from 'vitest';
import { OFF_POLICY_NOT_APPLICABLE, runReplay } from '../src/index';
import { event, item, jsonlInput, movieLensSlice } from './fixtures';

/**
 * Before the feeds, A is liked three times, B twice and C once, so the popular baseline's feed of
 * two items is A and B at both logged feeds.
 *
 * feed-1 shows A (propensity 0.5, tapped) and C (0.25); feed-2 shows B (0.8) and D (0.2, tapped).
 * Weights under the popular feed: A 1/0.5 = 2, C 0, B 1/0.8 = 1.25, D 0. Rewards: A and D.
 * IPS = (1·2) / 4 impressions = 0.5; SNIPS = 2 / (2 + 1.25) = 8/13;
 * effective sample size = 3.25² / (2² + 1.25²) = 10.5625 / 5.5625.
 */
function loggedFeeds() {
  const catalog = [item('A', ['x']), item('B', ['x']), item('C', ['y']), item('D', ['y'])];
  const propensity = (value: number) => ({ context: { propensity: value } });
  const events = [
    event('like', 'w1', 'A', 0),
    event('like', 'w2', 'A', 1),
    event('like', 'w3', 'A', 2),
    event('like', 'w1', 'B', 3),
    event('like', 'w2', 'B', 4),
    event('like', 'w3', 'C', 5),
    event('impression', 'f1', 'A', 100, { feedId: 'feed-1', position: 0, ...propensity(0.5) }),
    event('impression', 'f1', 'C', 100, { feedId: 'feed-1', position: 1, ...propensity(0.25) }),
    event('tap', 'f1', 'A', 105, { feedId: 'feed-1', position: 0 }),
    event('impression', 'f2', 'B', 200, { feedId: 'feed-2', position: 0, ...propensity(0.8) }),
    event('impression', 'f2', 'D', 200, { feedId: 'feed-2', position: 1, ...propensity(0.2) }),
    event('tap', 'f2', 'D', 207, { feedId: 'feed-2', position: 1 }),
  ];
  return jsonlInput(events, catalog);
}

describe('off-policy estimate', () => {
  it('weights rewarded impressions by inverse propensity', async () => {
    const { report } = await runReplay({ input: loggedFeeds(), baselines: ['popular'], poolRefreshEvents: 1, bootstrapResamples: 200 });
    expect(report.offPolicy.applicable).toBe(true);
    if (!report.offPolicy.applicable) {
      return;
    }
    expect(report.offPolicy.loggedFeeds).toBe(2);
    expect(report.offPolicy.impressions).toBe(4);
    expect(report.offPolicy.loggedTapThroughRate).toBeCloseTo(0.5, 6);
    const [estimate] = report.offPolicy.estimates;
    expect(estimate?.ranker).toBe('popular');
    expect(estimate?.ips.value).toBeCloseTo(0.5, 6);
    expect(estimate?.snips.value).toBeCloseTo(8 / 13, 6);
    expect(estimate?.effectiveSampleSize).toBeCloseTo(10.5625 / 5.5625, 6);
    expect(estimate?.matchedImpressions).toBe(2);
  });

  it('reports not applicable for MovieLens, which logs no served feeds', async () => {
    const input = await movieLensSlice(300);
    const { report } = await runReplay({ input, baselines: ['popular'], bootstrapResamples: 10 });
    expect(report.offPolicy).toEqual({ applicable: false, reason: OFF_POLICY_NOT_APPLICABLE });
  });
});
