import { middleK } from './build-report';
import { formatCount } from './format-count';
import { describeListedRejections } from './sources/replay-input';
import type { IntervalValue, ReplayReport } from './report-schema';
import type { ReplayTimings } from './timings';

/** Renders the report and timings as Markdown: settings, accuracy, beyond-accuracy metrics, latency, off-policy and charts. */
export function renderMarkdown(report: ReplayReport, timings: ReplayTimings, charts: { byK: string; overTime: string }): string {
  const lines = ['# Replay report', '', ...describeRun(report), describeRejected(report.rejected), '', '## Accuracy', '', ...accuracyTable(report), ''];
  const k = middleK(report.settings.ks);
  lines.push(`## Beyond accuracy at K = ${k}`, '', ...beyondAccuracyTable(report, k), '');
  lines.push(
    'Coverage is the share of the items a ranking could hold (under the full protocol the catalog items applied by the end,',
    'under the sampled one every item of the catalog or the events) that are in at least one top-K list; novelty the mean self-information −log2 of an',
    "item's share of the events so far, in bits; diversity the mean Jaccard distance between the category sets of two",
    'items of a list.',
    '',
  );
  lines.push('## Latency', '', ...latencyTable(timings), '');
  lines.push('## Off-policy estimate', '', ...offPolicySection(report), '');
  lines.push('## Charts', '', `![metrics by K](${charts.byK})`, '', `![HitRate@${report.overTime.k} over time](${charts.overTime})`, '');
  return lines.join('\n');
}

/** Renders the short summary the command prints: one row per ranker at the middle K. */
export function renderSummary(report: ReplayReport, timings: ReplayTimings): string {
  const k = middleK(report.settings.ks);
  const header = `| ranker | HitRate@${k} | NDCG@${k} | MRR | coverage@${k} | p50 ms |`;
  const rows = report.rankers.map((ranker) => {
    const latency = timings.rankers.find((entry) => entry.name === ranker.name);
    const cells = [ranker.metrics.hitRate[String(k)], ranker.metrics.ndcg[String(k)], ranker.metrics.mrr, ranker.metrics.coverage[String(k)]];
    return `| ${ranker.name} | ${cells.map((cell) => formatInterval(cell)).join(' | ')} | ${formatNumber(latency?.p50Ms ?? null, 3)} |`;
  });
  return [...describeRun(report), '', header, '| --- | --- | --- | --- | --- | --- |', ...rows, ''].join('\n');
}

function describeRun(report: ReplayReport): string[] {
  const { counts, window, settings, candidates } = report;
  const protocol =
    settings.protocol === 'full'
      ? `full ranking over the generated candidates (mean ${formatNumber(candidates.meanCount, 1)} per point; the target was among them at ${formatPercent(candidates.targetRetrievedRate.value)} of points)`
      : `sampled: the target among ${describeNegatives(settings.negatives ?? 0, candidates.meanNegatives)}`;
  const from = window.evaluateFrom === null ? 'every event' : `events from ${window.evaluateFrom} (${window.cutoffSource})`;
  return [
    `${describeSource(report.source)}: ${describeEvents(counts)}, ${formatCount(counts.catalogItems, 'catalog item')}.`,
    ...describeUncataloged(counts, settings.protocol),
    `Evaluated ${from}: ${formatCount(counts.evaluationPoints, 'point')}${describeEmptyWindow(report)}.`,
    `Protocol: ${protocol}.`,
    `Seed ${settings.seed}; intervals are ${Math.round(settings.bootstrap.level * 100)}% percentile bootstrap intervals from ${settings.bootstrap.resamples.toLocaleString('en-US')} resamples of the points.`,
  ];
}

/**
 * Describes the events read, as `counts.events` counts them, and the duplicates among them, which
 * the feature store did not apply because an earlier event had the same sessionId and eventId.
 */
function describeEvents(counts: ReplayReport['counts']): string {
  const events = formatCount(counts.events, 'event');
  if (counts.duplicateEvents === 0) {
    return events;
  }
  return `${events} (${formatCount(counts.duplicateEvents, 'duplicate')} of an earlier event's sessionId and eventId, not applied)`;
}

/** Describes the input records that failed validation, as `rejected` in report.json lists them. */
function describeRejected(rejected: ReplayReport['rejected']): string {
  if (rejected.count === 0) {
    return 'No input record was rejected as invalid.';
  }
  const codes = Object.entries(rejected.byCode)
    .map(([code, count]) => `${code} ${count.toLocaleString('en-US')}`)
    .join(', ');
  const verb = rejected.count === 1 ? 'was' : 'were';
  const first = rejected.first === undefined ? '' : ` The first is at ${rejected.first.location}: ${rejected.first.code} ${rejected.first.message.replace(/\.?$/, '.')}`;
  const listing = rejected.records === undefined ? '' : ` report.json lists ${describeListedRejections(rejected)} under rejected.records.`;
  return `${formatCount(rejected.count, 'input record')} ${verb} rejected as invalid and left out (${codes}).${first}${listing}`;
}

/**
 * Describes the events whose item has no catalog record, as one line, or no line when there are
 * none or the report predates the count.
 */
function describeUncataloged(counts: ReplayReport['counts'], protocol: ReplayReport['settings']['protocol']): string[] {
  const events = counts.eventsWithoutCatalogRecord ?? 0;
  if (events === 0) {
    return [];
  }
  const points = formatCount(counts.pointsWithoutCatalogRecord ?? 0, 'point');
  const subject = `${formatCount(events, 'event')} ${events === 1 ? 'names an item' : 'name items'} without a catalog record.`;
  const pronoun = events === 1 ? 'It updates' : 'They update';
  if (protocol === 'full') {
    return [`${subject} ${pronoun} the features, but the full protocol drops such items from the candidates, so a point on one of them is a miss for every ranker (${points} in this run).`];
  }
  return [`${subject} ${pronoun} the features and ${events === 1 ? 'is' : 'are'} evaluated like the others (${points} in this run).`];
}

/**
 * Describes the negatives of the sampled protocol: the requested count when every point had it,
 * else the mean actually drawn. Reports of earlier versions lack the mean, so only the maximum is known.
 */
function describeNegatives(requested: number, mean: number | null | undefined): string {
  if (mean === undefined) {
    return `up to ${formatCount(requested, 'seeded negative')} per point`;
  }
  if (mean === null || mean >= requested) {
    return `${formatCount(requested, 'seeded negative')} per point`;
  }
  return `a mean of ${formatMeanBelow(mean, requested)} seeded negatives per point (${requested} requested; fewer items were available)`;
}

/** Formats a mean that is below `limit` with one decimal, or more where one decimal would round it up to `limit`. */
export function formatMeanBelow(mean: number, limit: number): string {
  const short = mean.toFixed(1);
  return Number(short) < limit ? short : String(mean);
}

/** Returns why a run has no point when the evaluation starts after the last event, else an empty string. */
function describeEmptyWindow(report: ReplayReport): string {
  const { window } = report;
  if (report.counts.evaluationPoints > 0 || window.evaluateFromMs === null || window.lastEventMs === null || window.lastEventMs >= window.evaluateFromMs) {
    return '';
  }
  return `, because no event comes at or after that time (the last is at ${new Date(window.lastEventMs).toISOString()})`;
}

function describeSource(source: Record<string, unknown>): string {
  switch (source.kind) {
    case 'movielens':
      return `MovieLens (${String(source.directory)})`;
    case 'kafka':
      return `Kafka topic ${String(source.topic)}`;
    default:
      return `JSON Lines (${(source.eventFiles as string[] | undefined)?.join(', ') ?? ''})`;
  }
}

function accuracyTable(report: ReplayReport): string[] {
  const ks = report.settings.ks;
  const header = ['ranker', ...ks.map((k) => `HitRate@${k}`), ...ks.map((k) => `NDCG@${k}`), 'MRR'];
  const rows = report.rankers.map((ranker) => [
    ranker.name,
    ...ks.map((k) => formatInterval(ranker.metrics.hitRate[String(k)])),
    ...ks.map((k) => formatInterval(ranker.metrics.ndcg[String(k)])),
    formatInterval(ranker.metrics.mrr),
  ]);
  return table(header, rows);
}

function beyondAccuracyTable(report: ReplayReport, k: number): string[] {
  const rows = report.rankers.map((ranker) => [
    ranker.name,
    formatInterval(ranker.metrics.coverage[String(k)]),
    formatInterval(ranker.metrics.novelty[String(k)], 2),
    formatInterval(ranker.metrics.diversity[String(k)]),
  ]);
  return table(['ranker', `coverage@${k}`, `novelty@${k} (bits)`, `diversity@${k}`], rows);
}

function latencyTable(timings: ReplayTimings): string[] {
  const row = (name: string, summary: ReplayTimings['candidates']) => [
    name,
    formatInterval(summary.meanMs, 3),
    formatNumber(summary.p50Ms, 3),
    formatNumber(summary.p95Ms, 3),
    formatNumber(summary.p99Ms, 3),
  ];
  const rows = [row('session, candidates and item reads (shared)', timings.candidates), ...timings.rankers.map((ranker) => row(ranker.name, ranker))];
  return [
    `Per evaluation point, in ms. The replay took ${(timings.replayMs / 1000).toFixed(1)} s, ${timings.eventsPerSecond.toLocaleString('en-US')} events/s; these figures vary between runs and live in timings.json.`,
    '',
    ...table(['stage', 'mean', 'p50', 'p95', 'p99'], rows),
  ];
}

function offPolicySection(report: ReplayReport): string[] {
  const offPolicy = report.offPolicy;
  if (!offPolicy.applicable) {
    return [`Not applicable: ${offPolicy.reason}.`];
  }
  const rows = offPolicy.estimates.map((estimate) => [
    estimate.ranker,
    formatInterval(estimate.ips),
    formatInterval(estimate.snips),
    formatNumber(estimate.effectiveSampleSize, 1),
    String(estimate.matchedImpressions),
  ]);
  return [
    `${formatCount(offPolicy.loggedFeeds, 'logged feed')}, ${formatCount(offPolicy.impressions, 'impression')}; logged tap-through rate ${formatNumber(offPolicy.loggedTapThroughRate, 4)}.`,
    '',
    ...table(['ranker', 'IPS tap-through rate', 'SNIPS tap-through rate', 'effective sample size', 'matched impressions'], rows),
  ];
}

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)];
}

/** Formats `value [low, high]`, the value alone when it has no interval, or n/a for an undefined metric. */
export function formatInterval(interval: IntervalValue | undefined, digits = 4): string {
  if (interval === undefined || interval.value === null) {
    return 'n/a';
  }
  if (interval.low === null || interval.high === null) {
    return interval.value.toFixed(digits);
  }
  return `${interval.value.toFixed(digits)} [${formatNumber(interval.low, digits)}, ${formatNumber(interval.high, digits)}]`;
}

function formatNumber(value: number | null, digits: number): string {
  return value === null ? 'n/a' : value.toFixed(digits);
}

function formatPercent(value: number | null): string {
  return value === null ? 'n/a' : `${(value * 100).toFixed(1)}%`;
}
