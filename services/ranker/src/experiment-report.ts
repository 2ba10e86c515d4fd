import { experimentKeys, meanInterval, parseExperimentStats, parseExperimentVariants, wilsonInterval, type StoredVariant, type VariantCounts } from '@nexttap/model';
import type { FeatureStore } from '@nexttap/store';
import type { z } from 'zod';
import type { experimentReportSchema, variantReportSchema } from './admin-schemas';
import type { ExperimentConfig } from './experiment';

/** Online metrics of one variant, as `GET /v1/experiments/:id` returns them. */
export type VariantReport = z.infer<typeof variantReportSchema>;

export type ExperimentReport = z.infer<typeof experimentReportSchema>;

const INTERVALS_NOTE =
  'rates: Wilson score interval, 95%; means: mean ± 1.96 standard errors (normal approximation). ' +
  'Counts come from events with a feedId that ingest attributed to a served first page.';

/**
 * Reads an experiment's counters and computes each variant's metrics. The variants' models and
 * weights come from the running experiment, or for a stopped one from those stored with its
 * counters. Returns undefined when the experiment is not running and has no stored record (never
 * existed, or its record expired).
 */
export async function readExperimentReport(store: FeatureStore, experimentId: string, running: ExperimentConfig | undefined): Promise<ExperimentReport | undefined> {
  const [result] = await store.read([{ kind: 'hash', key: experimentKeys.stats(experimentId) }]);
  const fields = result?.kind === 'hash' ? result.value : {};
  const stats = parseExperimentStats(fields);
  const isRunning = running?.id === experimentId;
  // A variant that counted events in an earlier run with this id, but is not among the stored
  // variants, is listed after them with a null model and weight.
  const configured: readonly StoredVariant[] = isRunning ? running.variants : parseExperimentVariants(fields);
  if (!isRunning && stats.size === 0 && configured.length === 0) {
    return undefined;
  }
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
