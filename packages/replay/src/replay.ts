import type { CatalogItem, Interaction } from '@nexttap/events';
import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { PoolCache, readSession } from '@nexttap/rank';
import { MemoryFeatureStore, type FeatureStore } from '@nexttap/store';
import type { BootstrapSettings } from './bootstrap';
import { buildReport } from './build-report';
import { scheduleCatalog, type ScheduledItem } from './catalog-schedule';
import { REPLAY_ERROR_CODES, ReplayError } from './errors';
import { resolveEvaluationWindow, type EvaluationWindow } from './evaluation-window';
import { isAlreadyEngaged, PointEvaluator, type PointRanking } from './evaluator';
import { intraListDiversity, selfInformation } from './metrics';
import { collectLoggedFeeds, estimateOffPolicy, type LoggedFeed } from './off-policy';
import { sortInteractions } from './ordering';
import { PointLog, type ListQuality } from './point-log';
import { createRandom, deriveSeed, hashText, sampleExcluding } from './random';
import { baselineRanker, modelRanker, type Ranker } from './rankers';
import { resolveReplayOptions, TARGET_TYPES, type ReplayOptions, type ResolvedReplayOptions } from './replay-options';
import type { ReplayReport } from './report-schema';
import { buildTimings, type ReplayTimings } from './timings';

export interface ReplayResult {
  report: ReplayReport;
  timings: ReplayTimings;
}

/**
 * Replays a log through the shared feature code and evaluates every ranker on it.
 *
 * Events are sorted by time with a deterministic tie-break and applied one at a time with
 * `applyInteractions` to a feature store whose clock is the event time. Catalog items are applied
 * when they become known (see `scheduleCatalog`). The candidate pools are re-read every
 * `poolRefreshEvents` events, as the ranker re-reads them on a timer. At each target event (a tap,
 * play, complete or like in a session with an earlier event, at or after the evaluation start)
 * every ranker ranks the candidates from the state just before the event is applied, so no ranking
 * sees the event itself or anything after it.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplayResult> {
  const settings = resolveReplayOptions(options);
  const rankers = [...settings.models.map(modelRanker), ...settings.baselines.map(baselineRanker)];
  const names = rankers.map((ranker) => ranker.description.name);
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated !== undefined) {
    throw new ReplayError(REPLAY_ERROR_CODES.invalidOption, `ranker ${repeated} is listed twice; list each model and baseline once`);
  }
  const window = resolveEvaluationWindow(
    rankers.map((ranker) => ranker.description),
    settings.cutoffMs,
  );
  const run = new ReplayRun(settings, rankers, window);
  return run.execute();
}

/** The state of one replay while it runs. */
class ReplayRun {
  private clockMs = 0;
  private readonly events: Interaction[];
  private readonly schedule: ScheduledItem[];
  private nextScheduled = 0;
  private readonly store: FeatureStore;
  private readonly pools: PoolCache;
  private readonly evaluator: PointEvaluator;
  private readonly points: PointLog;
  private readonly feeds: Map<number, LoggedFeed>;
  private readonly candidateLatencyMs: number[] = [];
  private readonly seenSessions = new Set<string>();
  private readonly seenEvents = new Set<string>();
  /** Events per item replayed so far, and their total, for novelty. */
  private readonly itemEvents = new Map<string, number>();
  private totalEvents = 0;
  private readonly categories = new Map<string, ReadonlySet<string>>();
  /** Items known so far, in the order they became known: the pool of sampled negatives. */
  private readonly knownItems: string[] = [];
  private readonly known = new Set<string>();
  private readonly counts = { duplicateEvents: 0, targetEventsInWindow: 0, skippedFirstInSession: 0, skippedAlreadyEngaged: 0 };

  constructor(
    private readonly settings: ResolvedReplayOptions,
    private readonly rankers: readonly Ranker[],
    private readonly window: EvaluationWindow,
  ) {
    this.events = sortInteractions(settings.input.events);
    this.schedule = scheduleCatalog(settings.input.catalog, this.events);
    const now = () => this.clockMs;
    this.store = settings.createStore?.(now) ?? new MemoryFeatureStore({ now, sweepIntervalMs: 0 });
    this.pools = new PoolCache(this.store);
    this.evaluator = new PointEvaluator(this.store, this.pools, rankers, { protocol: settings.protocol, seed: settings.seed });
    this.points = new PointLog(
      rankers.map((ranker) => ranker.description),
      settings.ks,
    );
    this.feeds = collectLoggedFeeds(this.events, TARGET_TYPES);
  }

  async execute(): Promise<ReplayResult> {
    const startedMs = performance.now();
    try {
      for (let index = 0; index < this.events.length; index++) {
        await this.step(index, this.events[index] as Interaction);
        if ((index + 1) % this.settings.progressEvents === 0) {
          this.reportProgress(index + 1, startedMs);
        }
      }
    } finally {
      await this.store.close();
    }
    if (this.events.length % this.settings.progressEvents !== 0 || this.events.length === 0) {
      this.reportProgress(this.events.length, startedMs);
    }
    const replayMs = performance.now() - startedMs;
    const bootstrap: BootstrapSettings = { resamples: this.settings.bootstrapResamples, level: this.settings.confidenceLevel, seed: this.settings.seed };
    return { report: this.buildReport(bootstrap), timings: buildTimings(this.points, this.candidateLatencyMs, { replayMs, events: this.events.length }, bootstrap) };
  }

  /** Evaluates what the event calls for, from the state just before it, then applies it. */
  private async step(index: number, event: Interaction): Promise<void> {
    this.clockMs = event.ts;
    await this.applyKnownCatalog(event.ts);
    if (index % this.settings.poolRefreshEvents === 0) {
      await this.pools.refresh(event.ts);
    }
    const inWindow = this.window.startMs === null || event.ts >= this.window.startMs;
    const feed = this.feeds.get(index);
    if (feed !== undefined && inWindow) {
      await this.rankLoggedFeed(feed);
    }
    const eventKey = `${event.sessionId}\t${event.eventId}`;
    if (inWindow && TARGET_TYPES.has(event.type) && !this.seenEvents.has(eventKey)) {
      await this.evaluateTarget(event, eventKey);
    }
    this.seenEvents.add(eventKey);
    this.seenSessions.add(event.sessionId);
    const [applied] = await applyInteractions(this.store, [event]);
    if (applied === true) {
      this.countEvent(event.itemId);
    } else {
      this.counts.duplicateEvents += 1;
    }
  }

  /** Applies the catalog items known by `tMs` in one write. */
  private async applyKnownCatalog(tMs: number): Promise<void> {
    const items: CatalogItem[] = [];
    while (this.nextScheduled < this.schedule.length && (this.schedule[this.nextScheduled] as ScheduledItem).availableAtMs <= tMs) {
      const { item } = this.schedule[this.nextScheduled] as ScheduledItem;
      items.push(item);
      this.categories.set(item.itemId, new Set(item.categories));
      this.markKnown(item.itemId);
      this.nextScheduled += 1;
    }
    await applyCatalogItems(this.store, items);
  }

  private async evaluateTarget(event: Interaction, key: string): Promise<void> {
    this.counts.targetEventsInWindow += 1;
    if (!this.seenSessions.has(event.sessionId)) {
      this.counts.skippedFirstInSession += 1;
      return;
    }
    const { session, user } = await readSession(this.store, event.sessionId, event.userId, event.ts);
    if (isAlreadyEngaged(event.itemId, session, user)) {
      this.counts.skippedAlreadyEngaged += 1;
      return;
    }
    const negatives = this.settings.protocol === 'sampled' ? this.sampleNegatives(key, event.itemId, session.interacted, user?.interacted) : undefined;
    const ranking = await this.evaluator.rank({
      key,
      session,
      user,
      nowMs: event.ts,
      targetItemId: event.itemId,
      depth: this.points.depth,
      ...(negatives === undefined ? {} : { negatives }),
    });
    this.candidateLatencyMs.push(ranking.candidateLatencyMs);
    this.settings.onPoint?.({ key, tMs: event.ts, targetItemId: event.itemId, results: ranking.results });
    this.points.add(
      { key, tMs: event.ts, candidateCount: ranking.candidateCount, targetRetrieved: ranking.targetRetrieved },
      ranking.results,
      this.listQualities(ranking),
    );
  }

  /** Draws the target's negatives from the items known so far that the session and user have not engaged with. */
  private sampleNegatives(key: string, target: string, sessionItems: ReadonlySet<string>, userItems: ReadonlySet<string> | undefined): string[] {
    const random = createRandom(hashText(key, deriveSeed(this.settings.seed, 'negatives')));
    const excluded = (itemId: string) => itemId === target || sessionItems.has(itemId) || (userItems?.has(itemId) ?? false);
    return sampleExcluding(this.knownItems, this.settings.negatives, excluded, random);
  }

  /** Ranks the candidates at a logged feed's time and keeps each ranker's feed of the logged length. */
  private async rankLoggedFeed(feed: LoggedFeed): Promise<void> {
    const { session, user } = await readSession(this.store, feed.sessionId, feed.userId, feed.tMs);
    const ranking = await this.evaluator.rank({
      key: `${feed.sessionId}\t${feed.feedId}`,
      session,
      user,
      nowMs: feed.tMs,
      targetItemId: undefined,
      depth: feed.impressions.length,
    });
    feed.shownByRanker = ranking.results.map((result) => new Set(result.top));
  }

  private listQualities(ranking: PointRanking): ListQuality[] {
    return ranking.results.map((result) => ({
      novelty: this.settings.ks.map((k) => {
        const top = result.top.slice(0, k);
        return top.length === 0 ? Number.NaN : top.reduce((sum, itemId) => sum + selfInformation(this.itemEvents.get(itemId) ?? 0, this.totalEvents), 0) / top.length;
      }),
      diversity: this.settings.ks.map((k) => intraListDiversity(result.top.slice(0, k).map((itemId) => this.categories.get(itemId) ?? new Set<string>()))),
    }));
  }

  private countEvent(itemId: string): void {
    this.itemEvents.set(itemId, (this.itemEvents.get(itemId) ?? 0) + 1);
    this.totalEvents += 1;
    this.markKnown(itemId);
  }

  private markKnown(itemId: string): void {
    if (!this.known.has(itemId)) {
      this.known.add(itemId);
      this.knownItems.push(itemId);
    }
  }

  private reportProgress(events: number, startedMs: number): void {
    this.settings.onProgress?.({ events, totalEvents: this.events.length, points: this.points.size, elapsedMs: performance.now() - startedMs });
  }

  private buildReport(bootstrap: BootstrapSettings): ReplayReport {
    const { input } = this.settings;
    const catalogue = new Set([...input.catalog.map((item) => item.itemId), ...this.events.map((event) => event.itemId)]);
    const loggedFeeds = [...this.feeds.values()].filter((feed) => feed.shownByRanker.length > 0);
    return buildReport({
      points: this.points,
      settings: {
        protocol: this.settings.protocol,
        negatives: this.settings.protocol === 'sampled' ? this.settings.negatives : null,
        seed: this.settings.seed,
        ks: [...this.settings.ks],
        targetTypes: [...TARGET_TYPES],
        poolRefreshEvents: this.settings.poolRefreshEvents,
        bootstrap: { resamples: bootstrap.resamples, level: bootstrap.level },
      },
      source: input.source,
      window: {
        evaluateFromMs: this.window.startMs,
        evaluateFrom: this.window.startMs === null ? null : new Date(this.window.startMs).toISOString(),
        cutoffSource: this.window.source,
        firstEventMs: this.events[0]?.ts ?? null,
        lastEventMs: this.events.at(-1)?.ts ?? null,
      },
      counts: {
        events: this.events.length,
        rejectedRecords: input.rejected.count,
        duplicateEvents: this.counts.duplicateEvents,
        catalogItems: input.catalog.length,
        catalogItemsApplied: this.nextScheduled,
        targetEventsInWindow: this.counts.targetEventsInWindow,
        evaluationPoints: this.points.size,
        skippedFirstInSession: this.counts.skippedFirstInSession,
        skippedAlreadyEngaged: this.counts.skippedAlreadyEngaged,
      },
      catalogSize: catalogue.size,
      offPolicy: estimateOffPolicy(loggedFeeds, this.points.rankers, bootstrap),
      rejected: input.rejected,
    });
  }
}
