import { readFile } from 'node:fs/promises';
import { bootstrapMeanDistributions, mean, percentileInterval, type BootstrapSettings, type Interval } from './bootstrap';
import { describeError, REPLAY_ERROR_CODES, ReplayError } from './errors';
import { hitAtK, ndcgAtK, reciprocalRank } from './metrics';
import { REPORT_SCHEMA, REPORT_SCHEMA_VERSION, replayReportSchema, type ReplayReport } from './report-schema';

/** The difference B − A of one metric of one pair of rankers over the points both reports evaluated. */
export interface MetricDifference {
  metric: string;
  rankerA: string;
  rankerB: string;
  valueA: number;
  valueB: number;
  difference: Interval;
  /** Two-sided p-value of the paired bootstrap: twice the smaller share of resampled differences on either side of 0. */
  pValue: number;
  /**
   * Resamples with a defined mean difference, over which `pValue` is computed. The smallest
   * non-zero p-value is 2 / resamples, so a `pValue` of 0 means below that.
   */
  resamples: number;
  significant: boolean;
}

export interface Comparison {
  sharedPoints: number;
  pointsOnlyInA: number;
  pointsOnlyInB: number;
  level: number;
  resamples: number;
  differences: MetricDifference[];
  /** Rankers of one report that have no counterpart in the other, and so are not compared. */
  unpaired: { a: string[]; b: string[] };
}

/**
 * Reads and validates a report written by `nexttap replay`.
 *
 * @throws ReplayError `REPLAY_ERR_UNREADABLE_INPUT` when the file cannot be read, `REPLAY_ERR_INVALID_REPORT` when it is no report of a known version
 */
export async function readReport(file: string): Promise<ReplayReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `report ${file} could not be read: ${describeError(error)}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.invalidReport, `report ${file} is not valid JSON: ${describeError(error)}`, { cause: error });
  }
  const header = raw as { schema?: unknown; schemaVersion?: unknown } | null;
  if (header?.schema !== REPORT_SCHEMA || header.schemaVersion !== REPORT_SCHEMA_VERSION) {
    throw new ReplayError(
      REPLAY_ERROR_CODES.invalidReport,
      `report ${file} is not a ${REPORT_SCHEMA} of schema version ${REPORT_SCHEMA_VERSION}; pass a report.json written by nexttap replay`,
    );
  }
  const parsed = replayReportSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ReplayError(REPLAY_ERROR_CODES.invalidReport, `report ${file} is invalid at ${issue?.path.join('.') ?? '(root)'}: ${issue?.message ?? 'unknown problem'}`);
  }
  return parsed.data;
}

/**
 * Checks that two reports measured the same thing and returns one warning line per setting that
 * differs without making the comparison meaningless: the seed and the feature store.
 *
 * @throws ReplayError `REPLAY_ERR_INVALID_REPORT` when the protocols or the sampled negatives differ,
 * because the ranks of the two reports then come from different candidate sets
 */
export function checkComparable(a: ReplayReport, b: ReplayReport, files: { a: string; b: string }): string[] {
  const both = `${files.a} and ${files.b}`;
  if (a.settings.protocol !== b.settings.protocol) {
    throw new ReplayError(
      REPLAY_ERROR_CODES.invalidReport,
      `${both} used different protocols (A ${a.settings.protocol}, B ${b.settings.protocol}); compare reports of the same --protocol`,
    );
  }
  if (a.settings.negatives !== b.settings.negatives) {
    throw new ReplayError(
      REPLAY_ERROR_CODES.invalidReport,
      `${both} used different negatives (A ${a.settings.negatives}, B ${b.settings.negatives}); compare reports of the same --negatives`,
    );
  }
  const warnings: string[] = [];
  if (a.settings.seed !== b.settings.seed) {
    warnings.push(`the reports used different seeds (A ${a.settings.seed}, B ${b.settings.seed}), so random choices such as the random baseline and the model's exploration slot differ between them`);
  }
  if (a.settings.store !== b.settings.store) {
    const storeA = a.settings.store ?? 'not recorded';
    const storeB = b.settings.store ?? 'not recorded';
    warnings.push(`the reports ran on different stores (A ${storeA}, B ${storeB}); Redis expires keys on its own clock, not the replay's, so the stores give different results for one log`);
  }
  return warnings;
}

/**
 * Compares two reports with a paired bootstrap over the evaluation points both contain, matched by
 * session and event id. Rankers pair by name; models with different names pair in the order the
 * reports list them, so that two versions of one model compare. Accuracy metrics only: coverage,
 * novelty and diversity are not stored per point. HitRate@K and NDCG@K are compared at every K of
 * either report. A report stores each target's rank up to the ranking depth (`MAX_K`, 200) whatever
 * its K list, so both reports yield every such K.
 */
export function compareReports(a: ReplayReport, b: ReplayReport, settings: BootstrapSettings): Comparison {
  const indexInB = new Map(b.evaluations.keys.map((key, index) => [key, index]));
  const pairs: Array<[number, number]> = [];
  a.evaluations.keys.forEach((key, index) => {
    const other = indexInB.get(key);
    if (other !== undefined) {
      pairs.push([index, other]);
    }
  });
  const differences: MetricDifference[] = [];
  const rankerPairs = pairRankers(a, b);
  const ks = [...new Set([...a.settings.ks, ...b.settings.ks])].sort((left, right) => left - right);
  for (const [rankerA, rankerB] of rankerPairs) {
    const ranksA = a.evaluations.ranks[rankerA] ?? [];
    const ranksB = b.evaluations.ranks[rankerB] ?? [];
    const metrics = [
      ...ks.map((k) => ({ metric: `HitRate@${k}`, value: (rank: number) => hitAtK(rank, k) })),
      ...ks.map((k) => ({ metric: `NDCG@${k}`, value: (rank: number) => ndcgAtK(rank, k) })),
      { metric: 'MRR', value: reciprocalRank },
    ];
    for (const { metric, value } of metrics) {
      const valuesA = Float64Array.from(pairs, ([indexA]) => value(ranksA[indexA] ?? 0));
      const valuesB = Float64Array.from(pairs, ([, indexB]) => value(ranksB[indexB] ?? 0));
      differences.push(pairedDifference(metric, rankerA, rankerB, valuesA, valuesB, settings));
    }
  }
  return {
    sharedPoints: pairs.length,
    pointsOnlyInA: a.evaluations.keys.length - pairs.length,
    pointsOnlyInB: b.evaluations.keys.length - pairs.length,
    level: settings.level,
    resamples: settings.resamples,
    differences,
    unpaired: {
      a: a.rankers.map((ranker) => ranker.name).filter((name) => !rankerPairs.some(([rankerA]) => rankerA === name)),
      b: b.rankers.map((ranker) => ranker.name).filter((name) => !rankerPairs.some(([, rankerB]) => rankerB === name)),
    },
  };
}

function pairRankers(a: ReplayReport, b: ReplayReport): Array<[string, string]> {
  const namesB = new Set(b.rankers.map((ranker) => ranker.name));
  const namesA = new Set(a.rankers.map((ranker) => ranker.name));
  const pairs: Array<[string, string]> = a.rankers.filter((ranker) => namesB.has(ranker.name)).map((ranker) => [ranker.name, ranker.name]);
  const unmatchedModelsA = a.rankers.filter((ranker) => ranker.kind === 'model' && !namesB.has(ranker.name));
  const unmatchedModelsB = b.rankers.filter((ranker) => ranker.kind === 'model' && !namesA.has(ranker.name));
  unmatchedModelsA.forEach((ranker, index) => {
    const other = unmatchedModelsB[index];
    if (other !== undefined) {
      pairs.push([ranker.name, other.name]);
    }
  });
  return pairs;
}

function pairedDifference(
  metric: string,
  rankerA: string,
  rankerB: string,
  valuesA: Float64Array,
  valuesB: Float64Array,
  settings: BootstrapSettings,
): MetricDifference {
  const differences = valuesB.map((value, index) => value - (valuesA[index] as number));
  const [distribution] = bootstrapMeanDistributions([differences], settings);
  const resampled = (distribution as Float64Array).filter((value) => !Number.isNaN(value));
  const atOrBelow = resampled.filter((value) => value <= 0).length / Math.max(1, resampled.length);
  const atOrAbove = resampled.filter((value) => value >= 0).length / Math.max(1, resampled.length);
  const pValue = Math.min(1, 2 * Math.min(atOrBelow, atOrAbove));
  const alpha = 1 - settings.level;
  return {
    metric,
    rankerA,
    rankerB,
    valueA: mean(valuesA),
    valueB: mean(valuesB),
    difference: { value: mean(differences), ...percentileInterval(distribution as Float64Array, settings.level) },
    pValue,
    resamples: resampled.length,
    // With N resamples a p-value of 0 only means p < 2/N, so a difference is significant only
    // when 2/N is also below the threshold.
    significant: resampled.length > 0 && pValue < alpha && 2 / resampled.length < alpha,
  };
}

/**
 * Renders a comparison as Markdown, one row per ranker pair and metric, and after the table the
 * number of differences tested with the count expected to be significant by chance alone.
 */
export function renderComparison(comparison: Comparison, files: { a: string; b: string }): string {
  const threshold = (1 - comparison.level).toFixed(2);
  const lines = [
    `Comparing ${files.b} (B) with ${files.a} (A) on ${comparison.sharedPoints.toLocaleString('en-US')} shared evaluation points` +
      ` (${comparison.pointsOnlyInA} only in A, ${comparison.pointsOnlyInB} only in B).`,
    `Significance: paired bootstrap over the shared points, ${comparison.resamples.toLocaleString('en-US')} resamples; a difference is significant when p < ${threshold}.`,
    '',
    '| ranker A | ranker B | metric | A | B | B − A | interval | p | significant |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of comparison.differences) {
    const interval = `[${format(row.difference.low)}, ${format(row.difference.high)}]`;
    lines.push(
      `| ${row.rankerA} | ${row.rankerB} | ${row.metric} | ${format(row.valueA)} | ${format(row.valueB)} | ${format(row.difference.value)} | ${interval} | ${formatPValue(row)} | ${row.significant ? 'yes' : 'no'} |`,
    );
  }
  const tested = comparison.differences.length;
  if (tested > 0) {
    // By linearity of expectation the count expected by chance is the share times the tests, even though the metrics of a pair are correlated.
    const share = 1 - comparison.level;
    const chance = `At p < ${threshold} about 1 in ${Math.round(1 / share)} differences without a real effect comes out significant by chance`;
    lines.push(
      '',
      tested === 1
        ? `1 difference tested. ${chance}.`
        : `${tested} differences tested. ${chance}, so about ${(tested * share).toFixed(1)} of these ${tested} would be significant even if no pair of rankers differed.`,
    );
  }
  const unpaired = [...comparison.unpaired.a.map((name) => `${name} (only in A)`), ...comparison.unpaired.b.map((name) => `${name} (only in B)`)];
  if (unpaired.length > 0) {
    lines.push('', `Not compared, for want of a counterpart in the other report: ${unpaired.join(', ')}.`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Formats a p-value with the decimals its resamples resolve, at least 3. A p-value of 0 is
 * printed as below the smallest non-zero one, 2 / resamples, rounded up: `< 0.002` for 1,000.
 */
export function formatPValue(row: Pick<MetricDifference, 'pValue' | 'resamples'>): string {
  if (row.resamples === 0) {
    return 'n/a';
  }
  const decimals = Math.max(3, Math.ceil(Math.log10(row.resamples / 2)));
  if (row.pValue === 0) {
    const scale = 10 ** decimals;
    // 2 * scale and resamples are integers, so the division is exact when 2 / resamples has `decimals` digits.
    const bound = Math.min(1, Math.ceil((2 * scale) / row.resamples) / scale);
    return `< ${bound.toFixed(decimals)}`;
  }
  return row.pValue.toFixed(decimals);
}

function format(value: number): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(4);
}
