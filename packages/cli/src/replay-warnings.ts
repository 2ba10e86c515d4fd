import { describeListedRejections, formatCount, formatMeanBelow, type ReplayReport } from '@nexttap/replay';

/**
 * Describes why a run evaluated no point, and what to change, for a one-line message. The causes
 * are checked in the order the replay applies them: the evaluation window, the event types, then
 * the target events the replay skipped.
 */
export function describeNoPoints(report: ReplayReport): string {
  const { counts, window } = report;
  if (window.evaluateFromMs !== null && window.lastEventMs !== null && window.lastEventMs < window.evaluateFromMs) {
    return describeStartAfterLastEvent(report, window.evaluateFromMs, window.lastEventMs);
  }
  const from = window.evaluateFrom === null ? 'in the log' : `from ${window.evaluateFrom} (${window.cutoffSource})`;
  if (counts.targetEventsInWindow === 0) {
    const earlier = window.cutoffSource === 'the cutoff option' ? ', or pass an earlier --cutoff' : '';
    return `no target event (${report.settings.targetTypes.join(', ')}) ${from}; replay a log with such events${earlier}`;
  }
  const reasons: string[] = [];
  if (counts.skippedFirstInSession > 0) {
    reasons.push(`${describeShare(counts.skippedFirstInSession, counts.targetEventsInWindow)} the first event of its session`);
  }
  if (counts.skippedAlreadyEngaged > 0) {
    reasons.push(`${describeShare(counts.skippedAlreadyEngaged, counts.targetEventsInWindow)} on an item that the session or user had engaged with before, which the feed rules drop`);
  }
  const fixes: string[] = [];
  if (counts.skippedFirstInSession > 0) {
    fixes.push('a point needs an earlier event of the same sessionId to rank a feed from, so replay a log whose sessions have more than one event');
  }
  if (counts.skippedAlreadyEngaged > 0) {
    fixes.push('a point needs a target item that is new to its session and user');
  }
  return `${formatCount(counts.targetEventsInWindow, 'target event')} ${from}, but ${reasons.join(' and ')}; ${fixes.join(', and ')}`;
}

/** Returns "it is" for a single target event, else "all are" or "N are". */
function describeShare(count: number, total: number): string {
  if (total === 1) {
    return 'it is';
  }
  return count === total ? 'all are' : `${count.toLocaleString('en-US')} ${count === 1 ? 'is' : 'are'}`;
}

/**
 * Describes an evaluation start after the last event. An earlier `--cutoff` helps only when no
 * model's training cut-off is after the last event too, because evaluation never starts before it.
 */
function describeStartAfterLastEvent(report: ReplayReport, startMs: number, lastEventMs: number): string {
  const { window } = report;
  const last = new Date(lastEventMs).toISOString();
  const firstEvent = window.firstEventMs === null ? last : new Date(window.firstEventMs).toISOString();
  const start = `evaluation starts at ${window.evaluateFrom ?? new Date(startMs).toISOString()} (${window.cutoffSource}), after the last event at ${last}`;
  const modelCutoff = latestTrainingCutoff(report);
  const limitFix = describeLimitFix(report, last, startMs);
  if (modelCutoff === undefined || modelCutoff.ms <= lastEventMs) {
    return `${start}; pass an earlier --cutoff, within the log's span from ${firstEvent} to ${last}${limitFix === undefined ? '' : `, or ${limitFix}`}`;
  }
  const replayLater = limitFix ?? `replay events after ${new Date(modelCutoff.ms).toISOString()}`;
  return `${start}, and events before the training cut-off of ${modelCutoff.name} trained the model; ${replayLater}, or evaluate the baselines alone with --no-model --cutoff TIME`;
}

/**
 * Returns the fix for a MovieLens `--limit` whose ratings all come before the evaluation start,
 * because the limit keeps the earliest ratings. Returns undefined for other sources and without a limit.
 */
function describeLimitFix(report: ReplayReport, last: string, startMs: number): string | undefined {
  const { source } = report;
  if (source.kind !== 'movielens' || typeof source.limit !== 'number') {
    return undefined;
  }
  return `--limit ${source.limit} keeps the earliest ${formatCount(source.limit, 'rating')}, which end at ${last}, so leave --limit out or raise it until the ratings reach past ${new Date(startMs).toISOString()}`;
}

function latestTrainingCutoff(report: ReplayReport): { ms: number; name: string } | undefined {
  let latest: { ms: number; name: string } | undefined;
  for (const ranker of report.rankers) {
    const ms = ranker.model?.trainingCutoffMs;
    if (ms !== undefined && ms !== null && (latest === undefined || ms > latest.ms)) {
      latest = { ms, name: ranker.name };
    }
  }
  return latest;
}

/**
 * Describes a sampled run whose points had fewer negatives on average than `--negatives` requested,
 * for a one-line warning. Returns undefined when every point had them, and under the full protocol.
 */
export function describeShortNegatives(report: ReplayReport): string | undefined {
  const requested = report.settings.negatives;
  const mean = report.candidates.meanNegatives;
  if (report.settings.protocol !== 'sampled' || requested === null || mean === undefined || mean === null || mean >= requested) {
    return undefined;
  }
  return (
    `the sampled protocol drew a mean of ${formatMeanBelow(mean, requested)} negatives per point, fewer than the ${requested} of --negatives, ` +
    'because fewer items were known that the session and user had not engaged with; metrics over fewer negatives read higher, ' +
    'so compare only runs with the same mean, pass a smaller --negatives, or replay a log with more items'
  );
}

/** Describes where `report.json` lists the rejected records: all of them, or the first `listLimit`. */
export function describeRejectedListing(rejected: ReplayReport['rejected'], reportFile: string): string {
  return `${reportFile} lists ${describeListedRejections(rejected)} under rejected.records, each with its location, code and field`;
}
