import type { CatalogItem, Interaction } from '@nexttap/events';
import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { PoolCache, readSession } from '@nexttap/rank';
import { MemoryFeatureStore, type FeatureStore } from '@nexttap/store';
import { bootstrapMeans, type BootstrapSettings, type Interval } from './bootstrap';
import { buildReport, reportColumns } from './build-report';
import { scheduleCatalog, type ScheduledItem } from './catalog-schedule';
import { REPLAY_ERROR_CODES, ReplayError } from './errors';
import { resolveEvaluationWindow, type EvaluationWindow } from './evaluation-window';
import { isAlreadyEngaged, PointEvaluator, type PointRanking } from './evaluator';
import { CachedItemReads } from './item-reads';
import { ListQualityMeter } from './list-quality';
import { collectLoggedFeeds, estimateOffPolicy, type LoggedFeed } from './off-policy';
import { sortInteractions } from './ordering';
import { PointLog, type ListQuality } from './point-log';
import { createRandom, deriveSeed, hashText, sampleExcluding } from './random';
import { baselineRanker, modelRanker, type Ranker } from './rankers';
import { resolveReplayOptions, TARGET_TYPES, type ReplayOptions, type ResolvedReplayOptions, type StoreKind } from './replay-options';
import type { ReplayReport } from './report-schema';
import { buildTimings, timingColumns, type ReplayTimings } from './timings';

export interface ReplayResult {
  report: ReplayReport;
  timings: ReplayTimings;
}

/**
 * Events applied in one `applyInteractions` call at most while no evaluation needs the state in
 * between. A batch merges the writes to shared keys (pools, global counters) as ingest does. In CPU
 * profiles of the MovieLens warm-up, batches of 1,000 spent 40% of the time in garbage collection
 * and batches of 100 spent 30%, because the planned writes of a large batch outlive V8's young
 * generation.
 */
const MAX_BATCH_EVENTS = 100;

/**
 * Events applied between two sweeps of the default memory store. Its timer sweep is off because
 * the replay clock is the event time. Without sweeps the keys of ended sessions and old dedup
 * markers pile up, and they slow every read and every garbage collection: after all of MovieLens
 * the store had 176,000 keys, of which 14,000 were live.
 */
const SWEEP_EVERY_EVENTS = 10_000;

/**
 * Replays a log through the shared feature code and evaluates every ranker on it.
 *
 * Events are sorted by time with a deterministic tie-break and applied in order with
 * `applyInteractions` to a feature store whose clock is the event time. Events between two reads
 * of the state go in one batch, as ingest applies a Kafka batch, and the clock of a batch is the
 * time of its last event. Catalog items are applied when they become known (see
 * `scheduleCatalog`). The candidate pools are re-read every `poolRefreshEvents` events, as the
 * ranker re-reads them on a timer, but only where a ranking can use them. At each target event (a
 * tap, play, complete or like in a session with an earlier event, at or after the evaluation
 * start) every ranker ranks the candidates from the state just before the event is applied, so no
 * ranking sees the event itself or anything after it.
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
  /** Removes expired keys from the default memory store; a store from `createStore` expires keys itself. */
  private readonly sweepStore: (() => void) | undefined;
  /** Copies of items' features kept across points, on the default memory store only. */
  private readonly itemReads: CachedItemReads | undefined;
  private eventsSinceSweep = 0;
  private readonly pools: PoolCache;
  private readonly evaluator: PointEvaluator;
  private readonly points: PointLog;
  private readonly feeds: Map<number, LoggedFeed>;
  private readonly candidateLatencyMs: number[] = [];
  /**
   * Ids of the events seen so far, by session: a session listed here has had an earlier event.
   * Nested sets cost less than one set of joined ids, which built and hashed a new string per event.
   */
  private readonly eventsBySession = new Map<string, Set<string>>();
  /** Events not yet applied, in replay order. */
  private pending: Interaction[] = [];
  /** Novelty and diversity of the rankings, from the events applied so far and the catalog. */
  private readonly quality = new ListQualityMeter();
  /** Items known so far, in the order they became known: the pool of sampled negatives. */
  private readonly knownItems: string[] = [];
  private readonly known = new Set<string>();
  private readonly counts = { duplicateEvents: 0, targetEventsInWindow: 0, skippedFirstInSession: 0, skippedAlreadyEngaged: 0, pointsWithoutCatalogRecord: 0 };
  /** Ids of the items with a catalog record in the input. */
  private readonly catalogIds: ReadonlySet<string>;

  constructor(
    private readonly settings: ResolvedReplayOptions,
    private readonly rankers: readonly Ranker[],
    private readonly window: EvaluationWindow,
  ) {
    this.events = sortInteractions(settings.input.events);
    this.schedule = scheduleCatalog(settings.input.catalog, this.events);
    this.catalogIds = new Set(settings.input.catalog.map((item) => item.itemId));
    const now = () => this.clockMs;
    if (settings.createStore === undefined) {
      const memoryStore = new MemoryFeatureStore({ now, sweepIntervalMs: 0 });
      this.sweepStore = () => memoryStore.sweepExpired();
      this.itemReads = new CachedItemReads(memoryStore, now);
      this.store = memoryStore;
    } else {
      this.store = settings.createStore(now);
    }
    this.pools = new PoolCache(this.store);
    this.evaluator = new PointEvaluator(this.store, this.pools, rankers, {
      protocol: settings.protocol,
      seed: settings.seed,
      ...(this.itemReads === undefined ? {} : { readItems: this.itemReads.read }),
    });
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
      await this.applyPending();
    } finally {
      await this.store.close();
    }
    if (this.events.length % this.settings.progressEvents !== 0 || this.events.length === 0) {
      this.reportProgress(this.events.length, startedMs);
    }
    const replayMs = performance.now() - startedMs;
    const bootstrap: BootstrapSettings = { resamples: this.settings.bootstrapResamples, level: this.settings.confidenceLevel, seed: this.settings.seed };
    // One bootstrap pass for the report's and the timings' columns: drawing 1,000 resamples of
    // every point costs about as much as summing the columns, and both use the same resamples.
    const metricColumns = reportColumns(this.points);
    const intervals = bootstrapMeans([...metricColumns, ...timingColumns(this.points, this.candidateLatencyMs)], bootstrap);
    return {
      report: this.buildReport(bootstrap, intervals.slice(0, metricColumns.length)),
      timings: buildTimings(this.points, this.candidateLatencyMs, { replayMs, events: this.events.length }, intervals.slice(metricColumns.length)),
    };
  }

  /**
   * Evaluates what the event calls for, from the state just before it, then queues it. Any read of
   * the state (a catalog update, a pool refresh, a ranking) first applies the queued events.
   */
  private async step(index: number, event: Interaction): Promise<void> {
    const inWindow = this.isInWindow(event.ts);
    const catalogDue = this.nextScheduled < this.schedule.length && (this.schedule[this.nextScheduled] as ScheduledItem).availableAtMs <= event.ts;
    const refreshDue = index % this.settings.poolRefreshEvents === 0 && this.poolsUsedFrom(index);
    const feed = inWindow ? this.feeds.get(index) : undefined;
    const sessionEvents = this.eventsBySession.get(event.sessionId);
    const isTarget = inWindow && TARGET_TYPES.has(event.type) && !(sessionEvents?.has(event.eventId) ?? false);
    if (catalogDue || refreshDue || feed !== undefined || (isTarget && sessionEvents !== undefined)) {
      await this.applyPending();
      this.clockMs = event.ts;
      await this.applyKnownCatalog(event.ts);
      if (refreshDue) {
        await this.pools.refresh(event.ts);
      }
      if (feed !== undefined) {
        await this.rankLoggedFeed(feed);
      }
    }
    if (isTarget) {
      await this.evaluateTarget(event, `${event.sessionId}\t${event.eventId}`);
    }
    if (sessionEvents === undefined) {
      this.eventsBySession.set(event.sessionId, new Set([event.eventId]));
    } else {
      sessionEvents.add(event.eventId);
    }
    this.pending.push(event);
    if (this.pending.length >= MAX_BATCH_EVENTS) {
      await this.applyPending();
    }
  }

  /** Applies the queued events in one batch, on the clock of the last one. */
  private async applyPending(): Promise<void> {
    if (this.pending.length === 0) {
      return;
    }
    const events = this.pending;
    this.pending = [];
    this.clockMs = (events[events.length - 1] as Interaction).ts;
    const applied = await applyInteractions(this.store, events);
    // An interaction writes the packed snapshot of its own item and of no other item.
    for (const event of events) {
      this.itemReads?.invalidate(event.itemId);
    }
    this.eventsSinceSweep += events.length;
    if (this.sweepStore !== undefined && this.eventsSinceSweep >= SWEEP_EVERY_EVENTS) {
      this.sweepStore();
      this.eventsSinceSweep = 0;
    }
    events.forEach((event, index) => {
      if (applied[index] === true) {
        this.countEvent(event.itemId);
      } else {
        this.counts.duplicateEvents += 1;
      }
    });
  }

  private isInWindow(tMs: number): boolean {
    return this.window.startMs === null || tMs >= this.window.startMs;
  }

  /**
   * Tells whether a pool refresh at `index` serves a ranking: some event before the next refresh is
   * in the evaluation window. Skipping the others changes no ranking, because every ranking reads
   * the pools of the latest refresh before it.
   */
  private poolsUsedFrom(index: number): boolean {
    const lastBeforeNextRefresh = Math.min(index + this.settings.poolRefreshEvents, this.events.length) - 1;
    return this.isInWindow((this.events[lastBeforeNextRefresh] as Interaction).ts);
  }

  /** Applies the catalog items known by `tMs` in one write. */
  private async applyKnownCatalog(tMs: number): Promise<void> {
    const items: CatalogItem[] = [];
    while (this.nextScheduled < this.schedule.length && (this.schedule[this.nextScheduled] as ScheduledItem).availableAtMs <= tMs) {
      const { item } = this.schedule[this.nextScheduled] as ScheduledItem;
      items.push(item);
      this.quality.setCategories(item.itemId, item.categories);
      this.markKnown(item.itemId);
      this.itemReads?.invalidate(item.itemId);
      this.nextScheduled += 1;
    }
    await applyCatalogItems(this.store, items);
  }

  private async evaluateTarget(event: Interaction, key: string): Promise<void> {
    this.counts.targetEventsInWindow += 1;
    if (!this.eventsBySession.has(event.sessionId)) {
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
    if (!this.catalogIds.has(event.itemId)) {
      this.counts.pointsWithoutCatalogRecord += 1;
    }
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
    return ranking.results.map((result) => this.quality.measure(result.top, this.settings.ks));
  }

  private countEvent(itemId: string): void {
    this.quality.countEvent(itemId);
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

  private storeSetting(): { store?: StoreKind } {
    const store = this.settings.storeKind ?? (this.settings.createStore === undefined ? 'memory' : undefined);
    return store === undefined ? {} : { store };
  }

  private buildReport(bootstrap: BootstrapSettings, intervals: readonly Interval[]): ReplayReport {
    const { input } = this.settings;
    // Coverage counts the items a ranking could hold. Under the full protocol these are the catalog
    // items applied by the end, because candidates come from catalog records. Under the sampled
    // protocol they are every item known from the catalog or the events: the pool of negatives.
    const catalogue =
      this.settings.protocol === 'full' ? new Set(this.schedule.slice(0, this.nextScheduled).map((scheduled) => scheduled.item.itemId)) : new Set(this.knownItems);
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
        ...this.storeSetting(),
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
        eventsWithoutCatalogRecord: this.events.filter((event) => !this.catalogIds.has(event.itemId)).length,
        pointsWithoutCatalogRecord: this.counts.pointsWithoutCatalogRecord,
      },
      catalogSize: catalogue.size,
      offPolicy: estimateOffPolicy(loggedFeeds, this.points.rankers, bootstrap),
      rejected: input.rejected,
    }, intervals);
  }
}
