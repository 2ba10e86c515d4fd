import type { BusRecord, EventBus, RecordBatch } from '@nexttap/bus';
import { IngestProcessor, ingestConfigSchema } from '@nexttap/ingest';
import { createLogger, createMetricsRegistry, type Registry } from '@nexttap/observability';
import type { FeatureStore, PlannedWrite, ReadRequest, ReadResult } from '@nexttap/features';
import { MemoryFeatureStore } from '@nexttap/store';
import { describe, expect, it } from 'vitest';

const NOW_MS = Date.UTC(2026, 0, 1);

/** Returns a bus whose produce, which sends the dead letters, fails the first `failures` times. */
function failingBus(failures: number): EventBus & { produced: BusRecord[] } {
  let remaining = failures;
  const produced: BusRecord[] = [];
  return {
    produced,
    produce: async (_topic, records) => {
      if (remaining > 0) {
        remaining -= 1;
        throw new Error('simulated broker outage');
      }
      produced.push(...records);
    },
    subscribe: () => Promise.reject(new Error('subscribe is not supported by this test bus')),
    close: async () => {},
  };
}

function interactionsBatch(): RecordBatch {
  const event = { eventId: 'event-1', type: 'tap', ts: NOW_MS - 1_000, sessionId: 'session-1', itemId: 'item-1' };
  const record = (offset: number, value: string) => ({
    topic: 'interactions',
    partition: 0,
    offset: String(offset),
    key: 'session-1',
    value: Buffer.from(value),
    headers: {},
    timestampMs: NOW_MS - 500,
  });
  return { topic: 'interactions', partition: 0, records: [record(0, JSON.stringify(event)), record(1, 'not json')] };
}

/** Returns a batch of one tap event of its own session on `partition`. */
function partitionBatch(partition: number): RecordBatch {
  const event = { eventId: `event-p${partition}`, type: 'tap', ts: NOW_MS - 1_000, sessionId: `session-p${partition}`, itemId: 'item-1' };
  const record = { topic: 'interactions', partition, offset: '0', key: event.sessionId, value: Buffer.from(JSON.stringify(event)), headers: {}, timestampMs: NOW_MS - 500 };
  return { topic: 'interactions', partition, records: [record] };
}

/** Creates a processor over `store` whose bus never fails, with the given ingest settings. */
function gatedProcessor(store: FeatureStore, metrics: Registry, settings: Record<string, unknown>): IngestProcessor {
  return new IngestProcessor({
    config: ingestConfigSchema.parse(settings),
    store,
    bus: failingBus(0),
    logger: createLogger({ level: 'silent', service: 'ingest-test' }),
    metrics,
    clock: () => NOW_MS,
  });
}


/**
 * A memory store whose applies wait until the test opens the gate. An apply call numbered above
 * `failAfterCalls`, counting from 1, fails. It records the writes of each apply call.
 */
class GatedStore implements FeatureStore {
  readonly store = new MemoryFeatureStore();
  readonly applyCalls: PlannedWrite[][] = [];
  failAfterCalls = Number.POSITIVE_INFINITY;
  private openGate: () => void = () => {};
  private gate: Promise<void> = new Promise((resolve) => (this.openGate = resolve));

  open(): void {
    this.openGate();
    this.gate = Promise.resolve();
  }

  read(requests: readonly ReadRequest[]): Promise<ReadResult[]> {
    return this.store.read(requests);
  }

  async apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    this.applyCalls.push([...writes]);
    const callNumber = this.applyCalls.length;
    await this.gate;
    if (callNumber > this.failAfterCalls) {
      throw new Error('simulated Redis outage');
    }
    return this.store.apply(writes);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/**
 * Resolves after five turns of the event loop, each through its timers and its check phase. The
 * stores of these tests do no I/O, so within them a batch reaches its store call or the queue in
 * front of it. A store call starts from a `setImmediate`, which one zero-delay timer may precede.
 */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Returns the value of the series of `name` whose labels include `labels`, compared as text, or 0. */
async function metricValue(metrics: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.getMetricsAsJSON()).find((entry) => entry.name === name);
  const value = metric?.values.find((entry) => Object.entries(labels).every(([key, label]) => String(entry.labels[key]) === label));
  return Number(value?.value ?? 0);
}

describe('IngestProcessor', () => {
  it('records applied events before dead letters', async () => {
    const metrics = createMetricsRegistry();
    const bus = failingBus(1);
    const notices: string[][] = [];
    const processor = new IngestProcessor({
      config: ingestConfigSchema.parse({}),
      store: new MemoryFeatureStore(),
      bus,
      logger: createLogger({ level: 'silent', service: 'ingest-test' }),
      metrics,
      clock: () => NOW_MS,
      onSessionsChanged: (sessionIds) => notices.push([...sessionIds]),
    });

    await expect(processor.handleBatch(interactionsBatch())).rejects.toThrow('simulated broker outage');
    expect(await metricValue(metrics, 'nexttap_ingest_records_total', { outcome: 'applied' })).toBe(1);
    expect(await metricValue(metrics, 'nexttap_feature_freshness_since_append_seconds', { le: '+Inf' })).toBe(1);
    expect(notices).toEqual([['session-1']]);

    await processor.handleBatch(interactionsBatch());
    expect(bus.produced).toHaveLength(1);
    expect(await metricValue(metrics, 'nexttap_ingest_records_total', { outcome: 'applied' })).toBe(1);
    expect(await metricValue(metrics, 'nexttap_ingest_records_total', { outcome: 'duplicate' })).toBe(1);
    expect(await metricValue(metrics, 'nexttap_feature_freshness_since_append_seconds', { le: '+Inf' })).toBe(1);
    expect(notices).toEqual([['session-1']]);
  });

  it('dead-letters an id with surrounding whitespace', async () => {
    const bus = failingBus(0);
    const store = new MemoryFeatureStore();
    const processor = new IngestProcessor({
      config: ingestConfigSchema.parse({}),
      store,
      bus,
      logger: createLogger({ level: 'silent', service: 'ingest-test' }),
      metrics: createMetricsRegistry(),
      clock: () => NOW_MS,
    });
    const event = { eventId: 'event-1', type: 'tap', ts: NOW_MS - 1_000, sessionId: ' 42', itemId: 'item-1' };
    const record = { topic: 'interactions', partition: 0, offset: '5', key: ' 42', value: Buffer.from(JSON.stringify(event)), headers: {}, timestampMs: NOW_MS - 500 };

    await processor.handleBatch({ topic: 'interactions', partition: 0, records: [record] });

    expect(bus.produced).toHaveLength(1);
    const deadLetter = bus.produced[0];
    expect(deadLetter?.headers).toMatchObject({ 'nexttap-reason': 'EVENT_INVALID_FIELD' });
    expect(JSON.parse(String(deadLetter?.value)).reason).toEqual({
      code: 'EVENT_INVALID_FIELD',
      field: 'sessionId',
      message: 'sessionId starts with whitespace (" "); send the id without the surrounding whitespace (received " 42")',
    });
    expect(store.size).toBe(0);
  });

  it('sends the items of applied events and of catalog records as changed, once', async () => {
    const itemNotices: string[][] = [];
    const processor = new IngestProcessor({
      config: ingestConfigSchema.parse({}),
      store: new MemoryFeatureStore(),
      bus: failingBus(0),
      logger: createLogger({ level: 'silent', service: 'ingest-test' }),
      metrics: createMetricsRegistry(),
      clock: () => NOW_MS,
      onItemsChanged: (itemIds) => itemNotices.push([...itemIds]),
    });
    const catalogRecord = { topic: 'catalog', partition: 0, offset: '0', key: 'item-7', value: Buffer.from(JSON.stringify({ itemId: 'item-7', categories: ['Drama'] })), headers: {}, timestampMs: NOW_MS - 500 };

    await processor.handleBatch(interactionsBatch());
    await processor.handleBatch(interactionsBatch());
    await processor.handleBatch({ topic: 'catalog', partition: 0, records: [catalogRecord] });

    // The second batch is a redelivery: its event is a duplicate and changes nothing.
    expect(itemNotices).toEqual([['item-1'], ['item-7']]);
  });

  it('times each stage of a batch', async () => {
    const metrics = createMetricsRegistry();
    const processor = new IngestProcessor({
      config: ingestConfigSchema.parse({}),
      store: new MemoryFeatureStore(),
      bus: failingBus(0),
      logger: createLogger({ level: 'silent', service: 'ingest-test' }),
      metrics,
      clock: () => NOW_MS,
    });

    await processor.handleBatch(interactionsBatch());

    for (const stage of ['wait', 'decode', 'queue', 'read', 'plan', 'write', 'settle', 'finish']) {
      expect(await metricValue(metrics, 'nexttap_ingest_stage_duration_seconds', { stage, le: '+Inf' }), stage).toBe(1);
    }
    // The first record was appended 500 ms before the clock's time.
    expect(await metricValue(metrics, 'nexttap_ingest_stage_duration_seconds', { stage: 'wait', le: '0.2048' })).toBe(0);
    expect(await metricValue(metrics, 'nexttap_ingest_stage_duration_seconds', { stage: 'wait', le: '0.8192' })).toBe(1);
    expect(await metricValue(metrics, 'nexttap_ingest_batch_records', { le: '2' })).toBe(1);
    expect(await metricValue(metrics, 'nexttap_ingest_batch_records', { le: '1' })).toBe(0);
  });

  it('merges batches waiting for the store', async () => {
    const metrics = createMetricsRegistry();
    const store = new GatedStore();
    const processor = gatedProcessor(store, metrics, { maxApplyCalls: 1 });

    const first = processor.handleBatch(partitionBatch(0));
    await settle();
    const waiting = [1, 2].map((partition) => processor.handleBatch(partitionBatch(partition)));
    await settle();
    expect(store.applyCalls).toHaveLength(1);
    store.open();
    await Promise.all([first, ...waiting]);

    // The first batch took the free call, and the two that waited for it shared the next one.
    expect(store.applyCalls).toHaveLength(2);
    expect(await metricValue(metrics, 'nexttap_ingest_apply_events', { le: '1' })).toBe(1);
    expect(await metricValue(metrics, 'nexttap_ingest_apply_events', { le: '2' })).toBe(2);
    expect(await metricValue(metrics, 'nexttap_ingest_records_total', { outcome: 'applied' })).toBe(3);
    expect(await metricValue(metrics, 'nexttap_feature_freshness_since_append_seconds', { le: '+Inf' })).toBe(3);
  });

  it('fails every merged batch and applies them once on redelivery', async () => {
    const metrics = createMetricsRegistry();
    const store = new GatedStore();
    const processor = gatedProcessor(store, metrics, { maxApplyCalls: 1 });

    store.failAfterCalls = 1;
    const first = processor.handleBatch(partitionBatch(0));
    await settle();
    const merged = [1, 2].map((partition) => processor.handleBatch(partitionBatch(partition)));
    await settle();
    store.open();
    await first;
    const outcomes = await Promise.allSettled(merged);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(await metricValue(metrics, 'nexttap_ingest_records_total', { outcome: 'applied' })).toBe(1);

    expect(store.applyCalls).toHaveLength(2);
    store.failAfterCalls = Number.POSITIVE_INFINITY;
    await Promise.all([0, 1, 2].map((partition) => processor.handleBatch(partitionBatch(partition))));
    expect(await metricValue(metrics, 'nexttap_ingest_records_total', { outcome: 'applied' })).toBe(3);
    expect(await metricValue(metrics, 'nexttap_ingest_records_total', { outcome: 'duplicate' })).toBe(1);
  });

  it('merges batches handed over in one turn', async () => {
    const metrics = createMetricsRegistry();
    const store = new GatedStore();
    store.open();
    const processor = gatedProcessor(store, metrics, {});

    await Promise.all([0, 1, 2].map((partition) => processor.handleBatch(partitionBatch(partition))));

    expect(store.applyCalls).toHaveLength(1);
    expect(await metricValue(metrics, 'nexttap_ingest_apply_events', { le: '2' })).toBe(0);
    expect(await metricValue(metrics, 'nexttap_ingest_apply_events', { le: '4' })).toBe(1);
    expect(await metricValue(metrics, 'nexttap_ingest_records_total', { outcome: 'applied' })).toBe(3);
  });
});
