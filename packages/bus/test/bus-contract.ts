import { uniqueName } from '@nexttap/testkit';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { BusError, type DeliveredRecord, type EventBus, type RecordBatch, type Subscription } from '../src/index';

/** What the contract needs from the environment of one implementation. */
export interface BusFixture<Bus extends EventBus> {
  /** Returns a new bus. The contract closes it when the test finishes. */
  createBus(): Bus;
  /** Creates a topic that `bus` can use. */
  createTopic(bus: Bus, name: string, partitions: number): Promise<void>;
  /** Returns the group's committed offsets by partition, leaving out partitions without a commit. */
  committedOffsets(bus: Bus, groupId: string, topic: string): Promise<Map<number, string>>;
}

export interface ContractOptions<Bus extends EventBus> {
  setUp(): Promise<BusFixture<Bus>>;
  tearDown(): Promise<void>;
  /** Whether producing to or subscribing to a missing topic rejects with `BUS_ERR_UNKNOWN_TOPIC`. */
  rejectsMissingTopics: boolean;
  /** Timeout of each test and of each wait for records, in milliseconds. */
  timeoutMs: number;
}

const KEYED_RECORD_COUNT = 1_000;
const SESSION_COUNT = 40;
const PARTITION_COUNT = 3;

/** Behaviour that every `EventBus` implementation must share. */
export function describeEventBusContract<Bus extends EventBus>(name: string, options: ContractOptions<Bus>): void {
  describe(`${name} event bus`, () => {
    let fixture: BusFixture<Bus>;
    const waitOptions = { timeout: options.timeoutMs, interval: 20 };

    beforeAll(async () => {
      fixture = await options.setUp();
    }, options.timeoutMs);

    afterAll(() => options.tearDown(), options.timeoutMs);

    function openBus(): Bus {
      const bus = fixture.createBus();
      onTestFinished(() => bus.close());
      return bus;
    }

    async function createTopic(bus: Bus, prefix: string, partitions: number): Promise<string> {
      const topic = uniqueName(prefix);
      await fixture.createTopic(bus, topic, partitions);
      return topic;
    }

    /** Subscribes a handler that stores every delivered record. */
    async function collect(bus: EventBus, topic: string, groupId: string): Promise<{ records: DeliveredRecord[]; subscription: Subscription }> {
      const records: DeliveredRecord[] = [];
      const subscription = await bus.subscribe({
        groupId,
        topics: [topic],
        fromBeginning: true,
        handleBatch: async (batch) => {
          records.push(...batch.records);
        },
      });
      onTestFinished(() => subscription.stop());
      return { records, subscription };
    }

    async function committedTotal(bus: Bus, groupId: string, topic: string): Promise<number> {
      const offsets = await fixture.committedOffsets(bus, groupId, topic);
      return [...offsets.values()].reduce((sum, offset) => sum + Number(offset), 0);
    }

    it(
      'delivers keyed records in per-key order',
      async () => {
        const bus = openBus();
        const topic = await createTopic(bus, 'ordered', PARTITION_COUNT);
        
        const produced = Array.from({ length: KEYED_RECORD_COUNT }, (_, index) => ({
          key: `session-${index % SESSION_COUNT}`,
          value: String(Math.floor(index / SESSION_COUNT)),
        }));
        const half = KEYED_RECORD_COUNT / 2;

        // Half before the group exists and half while it consumes, in several produce calls.
        for (let start = 0; start < half; start += 100) {
          await bus.produce(topic, produced.slice(start, start + 100));
        }
        const { records } = await collect(bus, topic, uniqueName('ordered-group'));
        for (let start = half; start < KEYED_RECORD_COUNT; start += 100) {
          await bus.produce(topic, produced.slice(start, start + 100));
        }

        await expect.poll(() => records.length, waitOptions).toBeGreaterThanOrEqual(KEYED_RECORD_COUNT);
        expect(records).toHaveLength(KEYED_RECORD_COUNT);

        const sequencesByKey = new Map<string, number[]>();
        const partitionsByKey = new Map<string, Set<number>>();
        for (const record of records) {
          const key = record.key ?? 'null';
          sequencesByKey.set(key, [...(sequencesByKey.get(key) ?? []), Number(record.value?.toString())]);
          partitionsByKey.set(key, (partitionsByKey.get(key) ?? new Set()).add(record.partition));
        }
        const perKey = KEYED_RECORD_COUNT / SESSION_COUNT;
        expect(sequencesByKey.size).toBe(SESSION_COUNT);
        for (const [key, sequences] of sequencesByKey) {
          expect(sequences, key).toEqual(Array.from({ length: perKey }, (_, index) => index));
          expect(partitionsByKey.get(key)?.size, key).toBe(1);
        }

        const usedPartitions = new Set(records.map((record) => record.partition));
        expect([...usedPartitions].sort()).toEqual([0, 1, 2]);
        for (const partition of usedPartitions) {
          const offsets = records.filter((record) => record.partition === partition).map((record) => Number(record.offset));
          expect(offsets, `partition ${partition}`).toEqual(offsets.map((_, index) => index));
        }
      },
      options.timeoutMs,
    );

    it(
      'redelivers a batch after the handler throws',
      async () => {
        const bus = openBus();
        const topic = await createTopic(bus, 'redelivery', 1);
        const groupId = uniqueName('redelivery-group');
        
        await bus.produce(
          topic,
          ['a', 'b', 'c', 'd', 'e'].map((value) => ({ key: 'session-1', value })),
        );

        const deliveries: RecordBatch[] = [];
        let releaseSecondDelivery: () => void = () => {};
        const secondDeliveryGate = new Promise<void>((resolve) => {
          releaseSecondDelivery = resolve;
        });
        const subscription = await bus.subscribe({
          groupId,
          topics: [topic],
          fromBeginning: true,
          handleBatch: async (batch) => {
            deliveries.push(batch);
            if (deliveries.length === 1) {
              throw new Error('simulated handler failure');
            }
            if (deliveries.length === 2) {
              await secondDeliveryGate;
            }
          },
        });
        // A failed check must not leave stop() waiting for the gated handler.
        onTestFinished(() => {
          releaseSecondDelivery();
          return subscription.stop();
        });

        await expect.poll(() => deliveries.length, waitOptions).toBe(2);
        const offsetsOf = (batch: RecordBatch | undefined): string[] => batch?.records.map((record) => record.offset) ?? [];
        expect(offsetsOf(deliveries[0])).toEqual(['0', '1', '2', '3', '4']);
        expect(offsetsOf(deliveries[1])).toEqual(offsetsOf(deliveries[0]));
        // The second delivery is still running, so nothing of the batch may be committed yet.
        expect(await fixture.committedOffsets(bus, groupId, topic)).toEqual(new Map());

        releaseSecondDelivery();
        await expect.poll(() => fixture.committedOffsets(bus, groupId, topic), waitOptions).toEqual(new Map([[0, '5']]));
        expect(deliveries).toHaveLength(2);
      },
      options.timeoutMs,
    );

    it(
      'resumes a group after its committed offset',
      async () => {
        const bus = openBus();
        const topic = await createTopic(bus, 'resume', PARTITION_COUNT);
        const groupId = uniqueName('resume-group');
        
        const firstValues = Array.from({ length: 30 }, (_, index) => `first-${index}`);
        const secondValues = Array.from({ length: 30 }, (_, index) => `second-${index}`);
        await bus.produce(topic, firstValues.map((value) => ({ key: value, value })));

        const first = await collect(bus, topic, groupId);
        await expect.poll(() => committedTotal(bus, groupId, topic), waitOptions).toBe(firstValues.length);
        await first.subscription.stop();
        await bus.produce(topic, secondValues.map((value) => ({ key: value, value })));

        const second = await collect(bus, topic, groupId);
        await expect.poll(() => second.records.length, waitOptions).toBeGreaterThanOrEqual(secondValues.length);
        const valuesOf = (records: DeliveredRecord[]): string[] => records.map((record) => record.value?.toString() ?? '').sort();
        expect(valuesOf(first.records)).toEqual([...firstValues].sort());
        expect(valuesOf(second.records)).toEqual([...secondValues].sort());
        await expect.poll(() => committedTotal(bus, groupId, topic), waitOptions).toBe(firstValues.length + secondValues.length);
      },
      options.timeoutMs,
    );

    it(
      'round-trips keys, values and headers',
      async () => {
        const bus = openBus();
        const topic = await createTopic(bus, 'headers', 1);
        
        const binary = Buffer.from([0, 1, 254, 255]);
        const headers = { 'content-type': 'application/octet-stream', 'trace-id': 'trace-é-1' };
        const producedAfterMs = Date.now();
        await bus.produce(topic, [
          { key: 'session-1', value: binary, headers },
          { key: null, value: 'text ✓' },
        ]);
        const producedBeforeMs = Date.now();

        const { records } = await collect(bus, topic, uniqueName('headers-group'));
        await expect.poll(() => records.length, waitOptions).toBe(2);
        const [withHeaders, withoutKey] = records;
        expect(withHeaders?.topic).toBe(topic);
        expect(withHeaders?.partition).toBe(0);
        expect(withHeaders?.offset).toBe('0');
        expect(withHeaders?.key).toBe('session-1');
        expect(withHeaders?.value).toEqual(binary);
        expect(withHeaders?.headers).toEqual(headers);
        expect(withHeaders?.timestampMs).toBeGreaterThanOrEqual(producedAfterMs);
        expect(withHeaders?.timestampMs).toBeLessThanOrEqual(producedBeforeMs);
        expect(withoutKey?.offset).toBe('1');
        expect(withoutKey?.key).toBeNull();
        expect(withoutKey?.value?.toString('utf8')).toBe('text ✓');
        expect(withoutKey?.headers).toEqual({});
      },
      options.timeoutMs,
    );

    it(
      'delivers every record to each group',
      async () => {
        const bus = openBus();
        const topic = await createTopic(bus, 'fan-out', PARTITION_COUNT);
        
        const values = Array.from({ length: 20 }, (_, index) => `value-${index}`);
        await bus.produce(topic, values.map((value) => ({ key: value, value })));

        const [first, second] = await Promise.all([
          collect(bus, topic, uniqueName('fan-out-a')),
          collect(bus, topic, uniqueName('fan-out-b')),
        ]);
        await expect.poll(() => first.records.length, waitOptions).toBe(values.length);
        await expect.poll(() => second.records.length, waitOptions).toBe(values.length);
      },
      options.timeoutMs,
    );

    it(
      'starts at the end without fromBeginning',
      async () => {
        const bus = openBus();
        const topic = await createTopic(bus, 'latest', 1);
        
        await bus.produce(topic, [{ key: 'session-1', value: 'before' }]);

        const received: string[] = [];
        const subscription = await bus.subscribe({
          groupId: uniqueName('latest-group'),
          topics: [topic],
          fromBeginning: false,
          handleBatch: async (batch) => {
            received.push(...batch.records.map((record) => record.value?.toString() ?? ''));
          },
        });
        onTestFinished(() => subscription.stop());

        // Kafka looks up the end offset at the first fetch after the join, so
        // one record produced right after subscribe can be skipped. The loop
        // produces until one arrives.
        await vi.waitFor(async () => {
          await bus.produce(topic, [{ key: 'session-1', value: 'after' }]);
          expect(received).toContain('after');
        }, { timeout: options.timeoutMs, interval: 200 });
        expect(received).not.toContain('before');
      },
      options.timeoutMs,
    );

    it(
      'waits for the batch in flight on stop',
      async () => {
        const bus = openBus();
        const topic = await createTopic(bus, 'stop', 1);
        const groupId = uniqueName('stop-group');
        
        await bus.produce(topic, [{ key: 'session-1', value: 'slow' }]);

        let handlerStarted = false;
        let handlerFinished = false;
        let releaseHandler: () => void = () => {};
        const handlerGate = new Promise<void>((resolve) => {
          releaseHandler = resolve;
        });
        const subscription = await bus.subscribe({
          groupId,
          topics: [topic],
          fromBeginning: true,
          handleBatch: async () => {
            handlerStarted = true;
            await handlerGate;
            handlerFinished = true;
          },
        });
        onTestFinished(() => {
          releaseHandler();
          return subscription.stop();
        });
        await expect.poll(() => handlerStarted, waitOptions).toBe(true);

        const stopped = subscription.stop();
        // Released on a later turn of the event loop, after stop() had every chance to return early.
        setImmediate(releaseHandler);
        await stopped;
        expect(handlerFinished).toBe(true);
        expect(await fixture.committedOffsets(bus, groupId, topic)).toEqual(new Map([[0, '1']]));
      },
      options.timeoutMs,
    );

    it(
      'loses no record on a draining stop',
      async () => {
        const bus = openBus();
        const topic = await createTopic(bus, 'drain', PARTITION_COUNT);
        const groupId = uniqueName('drain-group');
        const values = Array.from({ length: 300 }, (_, index) => `value-${index}`);
        await bus.produce(topic, values.map((value) => ({ key: value, value })));

        const handled: string[] = [];
        const slow = await bus.subscribe({
          groupId,
          topics: [topic],
          fromBeginning: true,
          handleBatch: async (batch) => {
            // Slow enough that records are still waiting when stop() is called.
            await new Promise((resolve) => setTimeout(resolve, 20));
            handled.push(...batch.records.map((record) => record.value?.toString() ?? ''));
          },
        });
        onTestFinished(() => slow.stop());
        await expect.poll(() => handled.length, waitOptions).toBeGreaterThan(0);
        await slow.stop({ drain: true });

        // Whatever the stopped member left uncommitted must reach the group's next member.
        const next = await collect(bus, topic, groupId);
        await expect.poll(() => committedTotal(bus, groupId, topic), waitOptions).toBe(values.length);
        const received = new Set([...handled, ...next.records.map((record) => record.value?.toString() ?? '')]);
        expect([...received].sort()).toEqual([...values].sort());
      },
      options.timeoutMs,
    );

    it('rejects calls after close', async () => {
      const bus = fixture.createBus();
      const topic = await createTopic(bus, 'closed', 1);
      await bus.close();
      await bus.close();

      await expect(bus.produce(topic, [{ key: null, value: 'late' }])).rejects.toMatchObject({ code: 'BUS_ERR_CLOSED' });
      await expect(
        bus.subscribe({ groupId: uniqueName('closed-group'), topics: [topic], fromBeginning: true, handleBatch: async () => {} }),
      ).rejects.toMatchObject({ code: 'BUS_ERR_CLOSED' });
    });

    it('rejects invalid subscribe options', async () => {
      const bus = openBus();
      const handleBatch = async (): Promise<void> => {};

      await expect(bus.subscribe({ groupId: '', topics: ['any'], fromBeginning: true, handleBatch })).rejects.toThrow(
        'groupId is empty',
      );
      await expect(bus.subscribe({ groupId: 'group', topics: [], fromBeginning: true, handleBatch })).rejects.toThrow(
        'topics is empty',
      );
    });

    it.skipIf(!options.rejectsMissingTopics)('rejects a missing topic', async () => {
      const bus = openBus();
      const topic = uniqueName('missing');

      const produced = bus.produce(topic, [{ key: 'session-1', value: 'lost' }]);
      await expect(produced).rejects.toBeInstanceOf(BusError);
      await expect(produced).rejects.toMatchObject({ code: 'BUS_ERR_UNKNOWN_TOPIC' });
      await expect(
        bus.subscribe({ groupId: uniqueName('missing-group'), topics: [topic], fromBeginning: true, handleBatch: async () => {} }),
      ).rejects.toMatchObject({ code: 'BUS_ERR_UNKNOWN_TOPIC' });
    });
  });
}
