import { experimentKeys, meanInterval, parseExperimentStats, wilsonInterval, type Estimate, type VariantCounts } from '@nexttap/model';
import type { FeatureStore } from '@nexttap/store';
import type { ExperimentConfig } from './experiment';

/** Online metrics of one variant, as `GET /v1/experiments/:id` returns them. */
export interface VariantReport {
  name: string;
  model: string | null;
  weight: number | null;
  counts: VariantCounts;
  /** Served first pages with at least one attributed tap, over served first pages; Wilson 95% interval. */
  tapThroughRate: Estimate;
  /** Taps over impressions, when the app sends impressions; Wilson 95% interval, capped at 1. */
  tapsPerImpression: Estimate;
  /** Skips over impressions; Wilson 95% interval. */
  skipRate: Estimate;
  /** Mean dwell in seconds over attributed events that carry dwellMs; normal 95% interval. */
  meanDwellSeconds: Estimate;
  /** Mean 0-based position of each feed's first tap; normal 95% interval. */
  meanFirstTapPosition: Estimate;
}

export interface ExperimentReport {
  id: string;
  running: boolean;
  variants: VariantReport[];
  intervals: string;
}

const INTERVALS_NOTE =
  'rates: Wilson score interval, 95%; means: mean ± 1.96 standard errors (normal approximation). ' +
  'Counts come from events with a feedId that ingest attributed to a served first page.';

/**
 * Reads an experiment's counters and computes each variant's metrics. Returns undefined when the
 * experiment is not running and has no counters (never existed, or its counters expired).
 */
export async function readExperimentReport(store: FeatureStore, experimentId: string, running: ExperimentConfig | undefined): Promise<ExperimentReport | undefined> {
  const [result] = await store.read([{ kind: 'hash', key: experimentKeys.stats(experimentId) }]);
  const stats = parseExperimentStats(result?.kind === 'hash' ? result.value : {});
  const isRunning = running?.id === experimentId;
  if (!isRunning && stats.size === 0) {
    return undefined;
  }
  const configured = isRunning ? running.variants : [];
  const names = [...configured.map((variant) => variant.name), ...[...stats.keys()].filter((name) => !configured.some((variant) => variant.name === name)).sort()];
  const variants = names.map((name): VariantReport => {
    const config = configured.find((variant) => variant.name === name);
    const counts = stats.get(name) ?? emptyCounts();
    return {
      name,
      model: config?.model ?? null,
      weight: config?.weight ?? null,
      counts,
      tapThroughRate: wilsonInterval(counts.tappedFeeds, counts.feeds),
      tapsPerImpression: wilsonInterval(Math.min(counts.taps, counts.impressions), counts.impressions),
      skipRate: wilsonInterval(Math.min(counts.skips, counts.impressions), counts.impressions),
      meanDwellSeconds: meanInterval(counts.dwellEvents, counts.dwellSeconds, counts.dwellSecondsSquared),
      meanFirstTapPosition: meanInterval(counts.firstTapPositionCount, counts.firstTapPositionSum, counts.firstTapPositionSquared),
    };
  });
  return { id: experimentId, running: isRunning, variants, intervals: INTERVALS_NOTE };
}

function emptyCounts(): VariantCounts {
  return parseExperimentStats({ 'empty:feeds': '0' }).get('empty') as VariantCounts;
}
