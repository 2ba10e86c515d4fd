import { TOPICS, topicName, type DeliveredRecord, type EventBus, type RecordBatch } from '@nexttap/bus';
import { decodeCatalogItem, decodeInteraction, type CatalogItem, type Interaction, type Rejection } from '@nexttap/events';
import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { Counter, Histogram, type Logger, type Registry } from '@nexttap/observability';
import type { FeatureStore } from '@nexttap/store';
import { attributeToExperiments } from './attribution';
import { CallCombiner } from './call-combiner';
import type { IngestConfig } from './config';
import { buildDeadLetter } from './dead-letter';
import { DeadLetterLog } from './dead-letter-log';
import { TimedStore } from './timed-store';

/**
 * Freshness buckets from 1 ms to about 65 s. From 5 to 50 ms they are 5 ms apart, so the share
 * of events readable within a target such as 20 ms is counted, not interpolated inside a bucket
 * from 16 to 32 ms. Above 64 ms they double.
 */
const FRESHNESS_BUCKETS_SECONDS = [
  0.001, 0.002, 0.003, 0.004, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05,
  ...Array.from({ length: 11 }, (_, index) => 0.064 * 2 ** index),
];
/** Stage buckets from 0.1 ms to about 6.5 s, doubling. */
const STAGE_BUCKETS_SECONDS = Array.from({ length: 17 }, (_, index) => 0.0001 * 2 ** index);
/** Batch size buckets from 1 to 4,096 records, doubling. */
const BATCH_RECORDS_BUCKETS = Array.from({ length: 13 }, (_, index) => 2 ** index);

/** A record that failed validation, with the reason its dead letter carries. */
interface RejectedRecord {
  record: DeliveredRecord;
  rejection: Rejection;
}

/** Times of one store apply call, in ms. `startedMs` and `endedMs` are on the `performance.now()` clock. */
interface ApplyCallTimes {
  startedMs: number;
  endedMs: number;
  readMs: number;
  planMs: number;
  writeMs: number;
}

export interface IngestProcessorDependencies {
  config: IngestConfig;
  store: FeatureStore;
  bus: EventBus;
  logger: Logger;
  metrics: Registry;
  clock?: () => number;
  /** Called after a batch's writes were acknowledged, with the sessions whose features changed. */
  onSessionsChanged?: (sessionIds: ReadonlySet<string>) => void;
  /** Called after a batch's writes were acknowledged, with the items whose counters or catalog records changed. */
  onItemsChanged?: (itemIds: ReadonlySet<string>) => void;
}

/**
 * Turns a batch of bus records into feature writes. It resolves only after the store acknowledged
 * the writes and the bus acknowledged the dead letters, so the caller may then commit the offsets;
 * any failure rejects and the same batch comes again, where the eventId de-duplication keeps the
 * effect exactly once.
 */
export class IngestProcessor {
  private readonly clock: () => number;
  private readonly outcomes: Counter<'topic' | 'outcome'>;
  private readonly sinceEventSeconds: Histogram;
  private readonly sinceAppendSeconds: Histogram;
  private readonly stageSeconds: Histogram<'stage'>;
  private readonly batchRecords: Histogram;
  private readonly applyEvents: Histogram;
  private readonly interactionsTopic: string;
  private readonly catalogTopic: string;
  private readonly deadLetterTopic: string;
  private readonly deadLetterLog: DeadLetterLog;
  /** Applies the decoded interactions of concurrent batches, merged while the store is busy. */
  private readonly applyCalls: CallCombiner<Interaction, boolean, ApplyCallTimes>;

  constructor(private readonly dependencies: IngestProcessorDependencies) {
    this.clock = dependencies.clock ?? Date.now;
    const prefix = dependencies.config.topicPrefix;
    this.interactionsTopic = topicName(prefix, TOPICS.interactions);
    this.catalogTopic = topicName(prefix, TOPICS.catalog);
    this.deadLetterTopic = topicName(prefix, TOPICS.interactionsDlq);
    this.deadLetterLog = new DeadLetterLog(dependencies.logger);
    this.outcomes = new Counter({
      name: 'nexttap_ingest_records_total',
      help: 'Records consumed by ingest, by topic and outcome: applied, duplicate, or the rejection code of a dead-lettered record',
      labelNames: ['topic', 'outcome'],
      registers: [dependencies.metrics],
    });
    this.sinceEventSeconds = new Histogram({
      name: 'nexttap_feature_freshness_since_event_seconds',
      help: "Time from an applied event's ts to the moment its features were readable, in seconds; includes client and bus delay",
      buckets: FRESHNESS_BUCKETS_SECONDS,
      registers: [dependencies.metrics],
    });
    this.sinceAppendSeconds = new Histogram({
      name: 'nexttap_feature_freshness_since_append_seconds',
      help: 'Time from an applied event\'s append to the interactions topic to the moment its features were readable, in seconds',
      buckets: FRESHNESS_BUCKETS_SECONDS,
      registers: [dependencies.metrics],
    });
    this.stageSeconds = new Histogram({
      name: 'nexttap_ingest_stage_duration_seconds',
      help:
        'Time of one stage of an interactions batch, in seconds: wait (append of its first record to the handler call), ' +
        'decode, queue (for a free store apply call), then of the apply call that took the batch, possibly merged with batches of other partitions: ' +
        'read (catalog records and recent events), plan, write (merge, encode and the script call), ' +
        'and settle (the end of that call to the batch resuming), finish (attribution and dead letters)',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS_SECONDS,
      registers: [dependencies.metrics],
    });
    this.batchRecords = new Histogram({
      name: 'nexttap_ingest_batch_records',
      help: 'Records in one interactions batch handed to ingest',
      buckets: BATCH_RECORDS_BUCKETS,
      registers: [dependencies.metrics],
    });
    this.applyEvents = new Histogram({
      name: 'nexttap_ingest_apply_events',
      help: 'Interactions in one feature store apply call, which merges the batches of several partitions while the store is busy',
      buckets: BATCH_RECORDS_BUCKETS,
      registers: [dependencies.metrics],
    });
    this.applyCalls = new CallCombiner((events) => this.applyMerged(events), dependencies.config.maxApplyCalls);
  }

  /** The topics this processor consumes. */
  get topics(): string[] {
    return [this.interactionsTopic, this.catalogTopic];
  }

  async handleBatch(batch: RecordBatch): Promise<void> {
    try {
      if (batch.topic === this.interactionsTopic) {
        await this.processInteractions(batch);
      } else if (batch.topic === this.catalogTopic) {
        await this.processCatalog(batch);
      } else {
        this.dependencies.logger.warn({ topic: batch.topic, partition: batch.partition }, 'batch from an unexpected topic ignored');
      }
    } catch (error) {
      this.dependencies.logger.warn(
        {
          err: error,
          topic: batch.topic,
          partition: batch.partition,
          firstOffset: batch.records[0]?.offset,
          lastOffset: batch.records.at(-1)?.offset,
        },
        'ingest batch failed; it will be delivered again',
      );
      throw error;
    }
  }

  private async processInteractions(batch: RecordBatch): Promise<void> {
    const nowMs = this.clock();
    const startedMs = performance.now();
    const valid: Interaction[] = [];
    const appendedAtMs: number[] = [];
    const rejected: RejectedRecord[] = [];
    for (const record of batch.records) {
      const result = decodeInteraction(record.value, { nowMs, maxFutureSkewMs: this.dependencies.config.maxFutureSkewMs, maxLatenessMs: this.dependencies.config.maxEventLatenessMs });
      if (result.ok) {
        valid.push(result.value);
        appendedAtMs.push(record.timestampMs);
      } else {
        rejected.push({ record, rejection: result.rejection });
        this.outcomes.inc({ topic: TOPICS.interactions, outcome: result.rejection.code });
      }
    }
    const decodedMs = performance.now();
    const { results: applied, call } = valid.length === 0 ? noApplyCall(decodedMs) : await this.applyCalls.submit(valid);
    const appliedMs = performance.now();
    // The features are readable now. When a later step fails, the redelivered batch finds these
    // events applied and counts them as duplicates, so they are recorded here or never.
    this.recordApplied(valid, appendedAtMs, applied);
    // Redelivered events pass through too: the counters de-duplicate by eventId themselves.
    await attributeToExperiments(this.dependencies.store, valid);
    await this.sendDeadLetters(batch.topic, rejected, nowMs);

    const firstAppendedAtMs = batch.records[0]?.timestampMs ?? nowMs;
    this.batchRecords.observe(batch.records.length);
    this.stageSeconds.observe({ stage: 'wait' }, Math.max(0, nowMs - firstAppendedAtMs) / 1000);
    this.stageSeconds.observe({ stage: 'decode' }, (decodedMs - startedMs) / 1000);
    this.stageSeconds.observe({ stage: 'queue' }, Math.max(0, call.startedMs - decodedMs) / 1000);
    this.stageSeconds.observe({ stage: 'read' }, call.readMs / 1000);
    this.stageSeconds.observe({ stage: 'plan' }, call.planMs / 1000);
    this.stageSeconds.observe({ stage: 'write' }, call.writeMs / 1000);
    this.stageSeconds.observe({ stage: 'settle' }, Math.max(0, appliedMs - call.endedMs) / 1000);
    this.stageSeconds.observe({ stage: 'finish' }, (performance.now() - appliedMs) / 1000);
  }

  /** Applies the events of one or more batches in one `applyInteractions` call and times its stages. */
  private async applyMerged(events: Interaction[]): Promise<{ results: boolean[]; call: ApplyCallTimes }> {
    const startedMs = performance.now();
    this.applyEvents.observe(events.length);
    const store = new TimedStore(this.dependencies.store);
    const results = await applyInteractions(store, events);
    const endedMs = performance.now();
    const planMs = Math.max(0, endedMs - startedMs - store.readMs - store.writeMs);
    return { results, call: { startedMs, endedMs, readMs: store.readMs, planMs, writeMs: store.writeMs } };
  }

  /** Records the freshness and the outcome of each event, and sends the change notices of the applied ones. */
  private recordApplied(events: readonly Interaction[], appendedAtMs: readonly number[], applied: readonly boolean[]): void {
    this.recordFreshness(events, appendedAtMs, applied);
    const appliedCount = applied.filter(Boolean).length;
    this.outcomes.inc({ topic: TOPICS.interactions, outcome: 'applied' }, appliedCount);
    this.outcomes.inc({ topic: TOPICS.interactions, outcome: 'duplicate' }, applied.length - appliedCount);
    const sessions = new Set<string>();
    const items = new Set<string>();
    for (let index = 0; index < events.length; index++) {
      if (applied[index] === true) {
        const event = events[index] as Interaction;
        sessions.add(event.sessionId);
        items.add(event.itemId);
      }
    }
    if (sessions.size > 0) {
      this.dependencies.onSessionsChanged?.(sessions);
      this.dependencies.onItemsChanged?.(items);
    }
  }

  private async processCatalog(batch: RecordBatch): Promise<void> {
    const nowMs = this.clock();
    const items: CatalogItem[] = [];
    const rejected: RejectedRecord[] = [];
    for (const record of batch.records) {
      const result = decodeCatalogItem(record.value);
      if (result.ok) {
        items.push(result.value);
      } else {
        rejected.push({ record, rejection: result.rejection });
        this.outcomes.inc({ topic: TOPICS.catalog, outcome: result.rejection.code });
      }
    }
    await applyCatalogItems(this.dependencies.store, items);
    if (items.length > 0) {
      this.dependencies.onItemsChanged?.(new Set(items.map((item) => item.itemId)));
    }
    await this.sendDeadLetters(batch.topic, rejected, nowMs);
    this.outcomes.inc({ topic: TOPICS.catalog, outcome: 'applied' }, items.length);
  }

  /**
   * Records, per applied event, the time from its `ts` and from its append to the topic until its
   * features became readable (the store acknowledged the batch).
   */
  private recordFreshness(events: readonly Interaction[], appendedAtMs: readonly number[], applied: readonly boolean[]): void {
    const readableAtMs = this.clock();
    events.forEach((event, index) => {
      if (!applied[index]) {
        return;
      }
      this.sinceEventSeconds.observe(Math.max(0, readableAtMs - event.ts) / 1000);
      this.sinceAppendSeconds.observe(Math.max(0, readableAtMs - (appendedAtMs[index] ?? readableAtMs)) / 1000);
    });
  }

  /** Produces the dead letters of `rejected` records of `topic`, and logs them once the bus acknowledged them. */
  private async sendDeadLetters(topic: string, rejected: RejectedRecord[], nowMs: number): Promise<void> {
    if (rejected.length === 0) {
      return;
    }
    const deadLetters = rejected.map(({ record, rejection }) => buildDeadLetter(record, topic, rejection, nowMs));
    await this.dependencies.bus.produce(this.deadLetterTopic, deadLetters);
    this.deadLetterLog.record(rejected);
  }
}

/** Returns the outcome of a batch whose records were all dead-lettered, which needs no store call. */
function noApplyCall(nowMs: number): { results: boolean[]; call: ApplyCallTimes } {
  return { results: [], call: { startedMs: nowMs, endedMs: nowMs, readMs: 0, planMs: 0, writeMs: 0 } };
}
