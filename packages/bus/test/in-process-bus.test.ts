import { uniqueName } from '@nexttap/testkit';
import { Partitioners } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { InProcessBus, partitionForKey, type InProcessBusOptions, type RecordBatch } from '../src/index';
import { describeEventBusContract } from './bus-contract';

const logger = pino({ level: 'silent' });
const testRedelivery = { initialDelayMs: 10, maxDelayMs: 50 };
/** Partitions probed for committed offsets; the tests use at most 3. */
const MAX_TEST_PARTITIONS = 8;

describeEventBusContract('in-process', {
  setUp: async () => ({
    createBus: () => new InProcessBus({ logger, redelivery: testRedelivery }),
    createTopic: async (bus, name, partitions) => bus.createTopic(name, partitions),
    committedOffsets: async (bus, groupId, topic) => {
      const offsets = new Map<number, string>();
      for (let partition = 0; partition < MAX_TEST_PARTITIONS; partition++) {
        const offset = bus.committedOffset(groupId, topic, partition);
        if (offset !== undefined) {
          offsets.set(partition, offset);
        }
      }
      return offsets;
    },
  }),
  tearDown: async () => {},
  rejectsMissingTopics: true,
  timeoutMs: 10_000,
});

function openBus(options: Partial<InProcessBusOptions> = {}): InProcessBus {
  const bus = new InProcessBus({ logger, redelivery: testRedelivery, ...options });
  onTestFinished(() => bus.close());
  return bus;
}

/** Subscribes from the beginning and stores every batch. */
async function collectBatches(bus: InProcessBus, topics: string[], groupId = uniqueName('group')): Promise<RecordBatch[]> {
  const batches: RecordBatch[] = [];
  const subscription = await bus.subscribe({
    groupId,
    topics,
    fromBeginning: true,
    handleBatch: async (batch) => {
      batches.push(batch);
    },
  });
  onTestFinished(() => subscription.stop());
  return batches;
}

function countRecords(batches: RecordBatch[]): number {
  return batches.reduce((sum, batch) => sum + batch.records.length, 0);
}

describe('InProcessBus', () => {
  it('drops the oldest records beyond retention', async () => {
    const bus = openBus({ maxRecordsPerPartition: 3 });
    bus.createTopic('retained');
    await bus.produce('retained', ['r0', 'r1', 'r2', 'r3', 'r4'].map((value) => ({ key: null, value })));

    const batches = await collectBatches(bus, ['retained']);
    await expect.poll(() => countRecords(batches)).toBe(3);
    const offsets = batches.flatMap((batch) => batch.records.map((record) => record.offset));
    expect(offsets).toEqual(['2', '3', '4']);
  });

  it('skips records dropped by retention', async () => {
    const bus = openBus({ maxRecordsPerPartition: 2 });
    bus.createTopic('overrun');
    const groupId = uniqueName('slow-group');
    await bus.produce('overrun', [{ key: null, value: 'first' }]);
    const first = await bus.subscribe({ groupId, topics: ['overrun'], fromBeginning: true, handleBatch: async () => {} });
    await expect.poll(() => bus.committedOffset(groupId, 'overrun', 0)).toBe('1');
    await first.stop();

    // Offsets 1 to 4; retention keeps 3 and 4, so offset 1, the committed one, is gone.
    await bus.produce('overrun', ['r1', 'r2', 'r3', 'r4'].map((value) => ({ key: null, value })));
    const batches = await collectBatches(bus, ['overrun'], groupId);
    await expect.poll(() => countRecords(batches)).toBe(2);
    const offsets = batches.flatMap((batch) => batch.records.map((record) => record.offset));
    expect(offsets).toEqual(['3', '4']);
  });

  it('caps batches at maxBatchSize', async () => {
    const bus = openBus();
    bus.createTopic('large');
    const values = Array.from({ length: 1_200 }, (_, index) => `value-${index}`);
    await bus.produce('large', values.map((value) => ({ key: 'session-1', value })));

    const batches = await collectBatches(bus, ['large']);
    await expect.poll(() => countRecords(batches)).toBe(values.length);
    expect(batches.map((batch) => batch.records.length)).toEqual([500, 500, 200]);
  });

  it('shares partitions between members of a group', async () => {
    const bus = openBus();
    bus.createTopic('shared', 4);
    const groupId = uniqueName('shared-group');
    const first = await collectBatches(bus, ['shared'], groupId);
    const second = await collectBatches(bus, ['shared'], groupId);
    const values = Array.from({ length: 100 }, (_, index) => `value-${index}`);
    await bus.produce('shared', values.map((value) => ({ key: value, value })));

    await expect.poll(() => countRecords(first) + countRecords(second)).toBe(values.length);
    const firstPartitions = new Set(first.map((batch) => batch.partition));
    const secondPartitions = new Set(second.map((batch) => batch.partition));
    expect([...firstPartitions].sort()).toEqual([0, 2]);
    expect([...secondPartitions].sort()).toEqual([1, 3]);
  });

  it('moves partitions off a stopped member', async () => {
    const bus = openBus();
    bus.createTopic('handover', 2);
    const groupId = uniqueName('handover-group');
    const leaving: RecordBatch[] = [];
    const leavingSubscription = await bus.subscribe({
      groupId,
      topics: ['handover'],
      fromBeginning: true,
      handleBatch: async (batch) => {
        leaving.push(batch);
      },
    });
    const staying = await collectBatches(bus, ['handover'], groupId);
    await leavingSubscription.stop();
    await bus.produce('handover', Array.from({ length: 20 }, (_, index) => ({ key: `key-${index}`, value: 'v' })));

    await expect.poll(() => countRecords(staying)).toBe(20);
    expect(leaving).toEqual([]);
  });

  it('spreads records without a key round-robin', async () => {
    const bus = openBus();
    bus.createTopic('unkeyed', 3);
    await bus.produce('unkeyed', Array.from({ length: 6 }, () => ({ key: null, value: 'v' })));

    const batches = await collectBatches(bus, ['unkeyed']);
    await expect.poll(() => countRecords(batches)).toBe(6);
    for (const partition of [0, 1, 2]) {
      const count = countRecords(batches.filter((batch) => batch.partition === partition));
      expect(count, `partition ${partition}`).toBe(2);
    }
  });

  it('delivers copies unaffected by the producer', async () => {
    const bus = openBus();
    bus.createTopic('copied');
    const value = Buffer.from('original');
    const headers = { name: 'original' };
    await bus.produce('copied', [{ key: 'k', value, headers }]);
    value.write('changed!');
    headers.name = 'changed';

    const batches = await collectBatches(bus, ['copied']);
    await expect.poll(() => countRecords(batches)).toBe(1);
    const [record] = batches[0]?.records ?? [];
    expect(record?.value?.toString()).toBe('original');
    expect(record?.headers).toEqual({ name: 'original' });
  });

  it('keeps redelivering until the handler succeeds', async () => {
    const bus = openBus();
    bus.createTopic('flaky');
    const groupId = uniqueName('flaky-group');
    await bus.produce('flaky', [{ key: 'k', value: 'v' }]);
    let calls = 0;
    const subscription = await bus.subscribe({
      groupId,
      topics: ['flaky'],
      fromBeginning: true,
      handleBatch: async () => {
        calls += 1;
        if (calls < 4) {
          throw new Error(`simulated failure ${calls}`);
        }
      },
    });
    onTestFinished(() => subscription.stop());

    await expect.poll(() => bus.committedOffset(groupId, 'flaky', 0)).toBe('1');
    expect(calls).toBe(4);
  });

  it('stops during a redelivery backoff', async () => {
    const bus = openBus({ redelivery: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    bus.createTopic('stalled');
    await bus.produce('stalled', [{ key: 'k', value: 'v' }]);
    let calls = 0;
    const subscription = await bus.subscribe({
      groupId: uniqueName('stalled-group'),
      topics: ['stalled'],
      fromBeginning: true,
      handleBatch: async () => {
        calls += 1;
        throw new Error('simulated failure');
      },
    });
    await expect.poll(() => calls).toBe(1);

    await subscription.stop();
    await bus.close();
    expect(calls).toBe(1);
  });

  it('hands a failed batch to the next member', async () => {
    const bus = openBus({ redelivery: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    bus.createTopic('handed-over');
    const groupId = uniqueName('handed-over-group');
    let failedCalls = 0;
    const failing = await bus.subscribe({
      groupId,
      topics: ['handed-over'],
      fromBeginning: true,
      handleBatch: async () => {
        failedCalls += 1;
        throw new Error('simulated failure');
      },
    });
    const taking = await collectBatches(bus, ['handed-over'], groupId);
    await bus.produce('handed-over', ['a', 'b', 'c'].map((value) => ({ key: 'k', value })));
    await expect.poll(() => failedCalls).toBe(1);

    await failing.stop();

    await expect.poll(() => countRecords(taking)).toBe(3);
    expect(taking.flatMap((batch) => batch.records.map((record) => record.offset))).toEqual(['0', '1', '2']);
    expect(bus.committedOffset(groupId, 'handed-over', 0)).toBe('3');
    expect(failedCalls).toBe(1);
  });

  it('hands every produced record to the handler on a draining stop', async () => {
    const bus = openBus({ maxBatchSize: 50 });
    bus.createTopic('drained', 3);
    const groupId = uniqueName('drained-group');
    const values = Array.from({ length: 2_000 }, (_, index) => `value-${index}`);
    await bus.produce('drained', values.map((value) => ({ key: value, value })));
    const handled: string[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: ['drained'],
      fromBeginning: true,
      handleBatch: async (batch) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        handled.push(...batch.records.map((record) => record.value?.toString() ?? ''));
      },
    });
    await expect.poll(() => handled.length).toBeGreaterThan(0);

    await subscription.stop({ drain: true });

    expect(handled.length).toBe(values.length);
    expect([...handled].sort()).toEqual([...values].sort());
    const committed = [0, 1, 2].map((partition) => Number(bus.committedOffset(groupId, 'drained', partition) ?? 0));
    expect(committed.reduce((sum, offset) => sum + offset, 0)).toBe(values.length);
  });

  it('redelivers a failed batch during a drain', async () => {
    const bus = openBus();
    bus.createTopic('drain-retry');
    const groupId = uniqueName('drain-retry-group');
    let releaseFirst: () => void = () => {};
    const firstGate = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let calls = 0;
    const handled: string[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: ['drain-retry'],
      fromBeginning: true,
      handleBatch: async (batch) => {
        calls += 1;
        if (calls === 1) {
          await firstGate;
          throw new Error('simulated failure');
        }
        handled.push(...batch.records.map((record) => record.value?.toString() ?? ''));
      },
    });
    onTestFinished(() => subscription.stop());
    await bus.produce('drain-retry', [{ key: 'k', value: 'a' }]);
    await expect.poll(() => calls).toBe(1);
    await bus.produce('drain-retry', [{ key: 'k', value: 'b' }]);

    const stopped = subscription.stop({ drain: true });
    releaseFirst();
    await stopped;

    expect(handled).toEqual(['a', 'b']);
    expect(bus.committedOffset(groupId, 'drain-retry', 0)).toBe('2');
  });

  it('leaves records produced during a drain to the next member', async () => {
    const bus = openBus({ maxBatchSize: 10 });
    bus.createTopic('drain-bound');
    const groupId = uniqueName('drain-bound-group');
    await bus.produce('drain-bound', Array.from({ length: 30 }, (_, index) => ({ key: 'k', value: `before-${index}` })));
    const handled: string[] = [];
    const subscription = await bus.subscribe({
      groupId,
      topics: ['drain-bound'],
      fromBeginning: true,
      handleBatch: async (batch) => {
        handled.push(...batch.records.map((record) => record.value?.toString() ?? ''));
        // A handler that produces to its own topic, which a drain must not follow for ever.
        await bus.produce('drain-bound', [{ key: 'k', value: `during-${handled.length}` }]);
      },
    });

    await subscription.stop({ drain: true });

    expect(handled).toEqual(Array.from({ length: 30 }, (_, index) => `before-${index}`));
    expect(bus.committedOffset(groupId, 'drain-bound', 0)).toBe('30');
    const next = await collectBatches(bus, ['drain-bound'], groupId);
    await expect.poll(() => countRecords(next)).toBe(3);
  });

  it('aborts a drain when the signal aborts', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const capturingLogger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const bus = openBus({ logger: capturingLogger, maxBatchSize: 10 });
    bus.createTopic('drain-abort');
    const groupId = uniqueName('drain-abort-group');
    await bus.produce('drain-abort', Array.from({ length: 100 }, (_, index) => ({ key: 'k', value: `value-${index}` })));
    let releaseHandler: () => void = () => {};
    const handlerGate = new Promise<void>((resolve) => {
      releaseHandler = resolve;
    });
    let calls = 0;
    const subscription = await bus.subscribe({
      groupId,
      topics: ['drain-abort'],
      fromBeginning: true,
      handleBatch: async () => {
        calls += 1;
        if (calls === 2) {
          await handlerGate;
        }
      },
    });
    await expect.poll(() => calls).toBe(2);
    const deadline = new AbortController();
    const stopped = subscription.stop({ drain: true, signal: deadline.signal });

    deadline.abort();
    // Logged in the abort itself, before any other turn of the event loop.
    const warning = lines.find((line) => line.msg === 'drain aborted before every record was committed');
    expect(warning?.groupId).toBe(groupId);
    expect(warning?.uncommittedRecords).toBe(90);
    expect(warning?.inFlightRecords).toBe(10);
    releaseHandler();
    await stopped;

    expect(calls).toBe(2);
    expect(bus.committedOffset(groupId, 'drain-abort', 0)).toBe('20');
    const next = await collectBatches(bus, ['drain-abort'], groupId);
    await expect.poll(() => countRecords(next)).toBe(80);
  });

  it('logs no warning for an aborted drain with nothing left', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const capturingLogger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const bus = openBus({ logger: capturingLogger });
    bus.createTopic('drain-empty');
    const groupId = uniqueName('drain-empty-group');
    await bus.produce('drain-empty', [{ key: 'k', value: 'v' }]);
    const subscription = await bus.subscribe({ groupId, topics: ['drain-empty'], fromBeginning: true, handleBatch: async () => {} });
    await expect.poll(() => bus.committedOffset(groupId, 'drain-empty', 0)).toBe('1');

    await subscription.stop({ drain: true, signal: AbortSignal.abort() });

    expect(lines.filter((line) => line.level === 40)).toEqual([]);
    expect(lines.find((line) => line.msg === 'consumer drained')?.drainedRecords).toBe(0);
  });

  it('rejects invalid options', () => {
    expect(() => new InProcessBus({ logger, maxRecordsPerPartition: 0 })).toThrow('invalid maxRecordsPerPartition 0');
    expect(() => new InProcessBus({ logger, maxBatchSize: 1.5 })).toThrow('invalid maxBatchSize 1.5');
    expect(() => new InProcessBus({ logger, redelivery: { initialDelayMs: 100, maxDelayMs: 10 } })).toThrow(
      'initialDelayMs 100 exceeds maxDelayMs 10',
    );
  });

  it('creates topics idempotently', () => {
    const bus = openBus({ topics: [{ name: 'created', partitions: 2 }] });

    expect(() => bus.createTopic('created', 2)).not.toThrow();
    expect(() => bus.createTopic('created', 3)).toThrow('topic "created" already exists with 2 partitions, not 3');
    expect(() => bus.createTopic('bad name', 1)).toThrow('invalid topic name "bad name"');
    expect(() => bus.createTopic('empty', 0)).toThrow('invalid partition count of topic "empty" 0');
  });
});

describe('partitionForKey', () => {
  it('matches the kafkajs DefaultPartitioner', () => {
    const keys = Array.from({ length: 500 }, (_, index) => (index % 2 === 0 ? `session-${index}` : `é✓-${'x'.repeat(index % 9)}`));
    for (const partitionCount of [1, 2, 3, 7, 12]) {
      const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({
        partitionId,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      const kafkaPartition = Partitioners.DefaultPartitioner();
      for (const key of keys) {
        const expected = kafkaPartition({ topic: 'any', partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(key, partitionCount), `key "${key}" over ${partitionCount} partitions`).toBe(expected);
      }
    }
  });
});
