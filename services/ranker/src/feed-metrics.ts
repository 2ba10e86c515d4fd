import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '@nexttap/observability';
import { Gauge } from 'prom-client';
import type { DegradedReason, FeedStage } from '@nexttap/rank';
import { LabelledHistogram } from './labelled-histogram';

const FEED_STAGES: readonly FeedStage[] = ['session', 'candidates', 'features', 'inference', 'rules', 'explain'];

/** Kinds of feed responses, as the `kind` label of the feed metrics. */
export type FeedKind = 'first-page' | 'next-page' | 'live';

/** Prometheus metrics of the feed routes, registered once per ranker. */
export class FeedMetrics {
  readonly duration: Histogram<'model' | 'kind'>;
  /** Observed five times per first page, so it takes the cheaper `LabelledHistogram`. */
  readonly stageDuration: LabelledHistogram<FeedStage>;
  readonly degraded: Counter<'reason'>;
  readonly recordFailures: Counter;
  readonly liveFeedsOpen: Gauge;
  readonly livePushes: Counter<'trigger'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.duration = new Histogram({
      name: 'nexttap_feed_duration_seconds',
      help: 'Time to rank one feed, from parsed request to response body, in seconds, by model (name@version) and kind (first-page, next-page, live)',
      labelNames: ['model', 'kind'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.stageDuration = new LabelledHistogram(
      'nexttap_feed_stage_duration_seconds',
      'Time of one stage of ranking a first page, in seconds: session, candidates, features, inference, rules, explain',
      'stage',
      FEED_STAGES,
      LATENCY_BUCKETS_SECONDS,
      registers,
    );
    this.degraded = new Counter({
      name: 'nexttap_feed_degraded_total',
      help: 'Feeds served in a reduced form instead of failing, by reason: store-timeout, store-unavailable, model-failed, model-non-finite',
      labelNames: ['reason'],
      registers,
    });
    this.recordFailures = new Counter({
      name: 'nexttap_feed_record_failures_total',
      help: 'Served feeds whose record (ranking, pages, served history) could not be written to the feature store',
      registers,
    });
    this.liveFeedsOpen = new Gauge({ name: 'nexttap_live_feeds_open', help: 'Live feed (SSE) connections open now', registers });
    this.livePushes = new Counter({
      name: 'nexttap_live_pushes_total',
      help: 'Feeds pushed on live feed connections, by trigger: connect or change',
      labelNames: ['trigger'],
      registers,
    });
  }

  observeStage(stage: FeedStage, seconds: number): void {
    this.stageDuration.observe(stage, seconds);
  }

  countDegraded(reason: DegradedReason): void {
    this.degraded.inc({ reason });
  }
}
