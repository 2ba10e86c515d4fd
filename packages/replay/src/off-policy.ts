import type { Interaction } from '@nexttap/events';
import { forEachResample, percentileInterval, type BootstrapSettings } from './bootstrap';
import type { OffPolicyReport } from './report-schema';
import type { RankerDescription } from './point-log';

/** Key of `context` on an impression that contains the logging policy's propensity of showing the item. */
export const PROPENSITY_CONTEXT_KEY = 'propensity';

/** One served feed as the log shows it: its impressions with propensities, and the items tapped from it. */
export interface LoggedFeed {
  sessionId: string;
  userId: string | undefined;
  feedId: string;
  /** Position in the sorted log of the feed's first impression; the rankers rank just before it. */
  firstEventIndex: number;
  tMs: number;
  impressions: Array<{ itemId: string; position: number; propensity: number }>;
  /** Items with a target event that carries this feed's id. */
  rewardedItems: Set<string>;
  /** Per ranker, the items of its feed of the same length, filled in during the replay. */
  shownByRanker: Array<ReadonlySet<string>>;
}

/**
 * Collects the served feeds of a sorted log: impressions that carry a `feedId`, a `position` and a
 * propensity in (0, 1] under `context.propensity`, the probability with which the logging policy
 * put that item in the feed. A target event with the same session, `feedId` and item is the
 * impression's reward. Returns the feeds by the index of their first impression.
 */
export function collectLoggedFeeds(events: readonly Interaction[], targetTypes: ReadonlySet<string>): Map<number, LoggedFeed> {
  const byKey = new Map<string, LoggedFeed>();
  events.forEach((event, index) => {
    const propensity = event.context?.[PROPENSITY_CONTEXT_KEY];
    if (event.type !== 'impression' || event.feedId === undefined || event.position === undefined || typeof propensity !== 'number') {
      return;
    }
    if (!(propensity > 0 && propensity <= 1)) {
      return;
    }
    const key = `${event.sessionId}\t${event.feedId}`;
    let feed = byKey.get(key);
    if (feed === undefined) {
      feed = { sessionId: event.sessionId, userId: event.userId, feedId: event.feedId, firstEventIndex: index, tMs: event.ts, impressions: [], rewardedItems: new Set(), shownByRanker: [] };
      byKey.set(key, feed);
    }
    feed.impressions.push({ itemId: event.itemId, position: event.position, propensity });
  });
  for (const event of events) {
    if (event.feedId !== undefined && targetTypes.has(event.type)) {
      byKey.get(`${event.sessionId}\t${event.feedId}`)?.rewardedItems.add(event.itemId);
    }
  }
  return new Map([...byKey.values()].map((feed) => [feed.firstEventIndex, feed]));
}

/** Reason the estimate does not apply, when the log has no feeds with propensities. */
export const OFF_POLICY_NOT_APPLICABLE =
  'the log has no impressions with a feedId, a position and context.propensity; MovieLens ratings, for one, record no served feeds';

/**
 * Estimates each ranker's tap-through rate on the logged feeds by inverse propensity scoring.
 *
 * A ranker's feed at a logged feed's time has the same length as the logged one. An impression of
 * item a with propensity p gets weight w = 1[a in the ranker's feed] / p and reward r = 1 when a
 * target event from that feed names a. Then IPS = Σ r·w / n over the n impressions, and the
 * self-normalised SNIPS = Σ r·w / Σ w. IPS is unbiased when every item the ranker shows had a
 * non-zero logging propensity and a tap depends on the item, not its position, but its variance
 * grows with 1/p; SNIPS trades a small bias for a lower variance. Intervals come from a bootstrap
 * over feeds, because the impressions of one feed are not independent.
 */
export function estimateOffPolicy(feeds: readonly LoggedFeed[], rankers: readonly RankerDescription[], settings: BootstrapSettings): OffPolicyReport {
  if (feeds.length === 0) {
    return { applicable: false, reason: OFF_POLICY_NOT_APPLICABLE };
  }
  const impressions = sum(feeds.map((feed) => feed.impressions.length));
  const rewards = sum(feeds.map((feed) => feed.impressions.filter((impression) => feed.rewardedItems.has(impression.itemId)).length));
  const counts = Float64Array.from(feeds.map((feed) => feed.impressions.length));
  return {
    applicable: true,
    loggedFeeds: feeds.length,
    impressions,
    loggedTapThroughRate: rewards / impressions,
    estimates: rankers.map((ranker, rankerIndex) => estimateRanker(feeds, rankerIndex, ranker.name, counts, settings)),
  };
}

function estimateRanker(feeds: readonly LoggedFeed[], rankerIndex: number, name: string, counts: Float64Array, settings: BootstrapSettings) {
  const rewardSums = new Float64Array(feeds.length);
  const weightSums = new Float64Array(feeds.length);
  let squaredWeights = 0;
  let matchedImpressions = 0;
  feeds.forEach((feed, feedIndex) => {
    const shown = feed.shownByRanker[rankerIndex] ?? new Set<string>();
    for (const impression of feed.impressions) {
      const weight = shown.has(impression.itemId) ? 1 / impression.propensity : 0;
      const reward = feed.rewardedItems.has(impression.itemId) ? 1 : 0;
      rewardSums[feedIndex] = (rewardSums[feedIndex] as number) + reward * weight;
      weightSums[feedIndex] = (weightSums[feedIndex] as number) + weight;
      squaredWeights += weight * weight;
      matchedImpressions += weight > 0 ? 1 : 0;
    }
  });
  const ipsDistribution = new Float64Array(settings.resamples);
  const snipsDistribution = new Float64Array(settings.resamples);
  let resample = 0;
  forEachResample(feeds.length, settings, (drawn, multiplicity, drawnCount) => {
    let rewardTotal = 0;
    let weightTotal = 0;
    let countTotal = 0;
    for (let entry = 0; entry < drawnCount; entry++) {
      const feedIndex = drawn[entry] as number;
      const times = multiplicity[entry] as number;
      rewardTotal += times * (rewardSums[feedIndex] as number);
      weightTotal += times * (weightSums[feedIndex] as number);
      countTotal += times * (counts[feedIndex] as number);
    }
    ipsDistribution[resample] = rewardTotal / countTotal;
    snipsDistribution[resample] = weightTotal === 0 ? Number.NaN : rewardTotal / weightTotal;
    resample += 1;
  });
  const rewardTotal = sum(rewardSums);
  const weightTotal = sum(weightSums);
  return {
    ranker: name,
    ips: { value: rewardTotal / sum(counts), ...percentileInterval(ipsDistribution, settings.level) },
    snips: { value: weightTotal === 0 ? Number.NaN : rewardTotal / weightTotal, ...percentileInterval(snipsDistribution, settings.level) },
    effectiveSampleSize: squaredWeights === 0 ? 0 : (weightTotal * weightTotal) / squaredWeights,
    matchedImpressions,
  };
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let index = 0; index < values.length; index++) {
    total += values[index] as number;
  }
  return total;
}
