import type { Consumer, EachBatchPayload } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { RecordBatch } from '../src/event-bus';
import { KafkaSubscription } from '../src/kafka-subscription';

const SETTINGS = {
  heartbeatIntervalMs: 5,
  partitionsConsumedConcurrently: 3,
  maxBatchRecords: 100,
  groupJoinTimeoutMs: 1_000,
  redelivery: { initialDelayMs: 1, maxDelayMs: 5 },
};

/**
 * Returns a kafkajs consumer stand-in that joins at once and hands out its `eachBatch` callback,
 * so that a test delivers batches by hand.
 */
function fakeConsumer(): { consumer: Consumer; eachBatch: () => (payload: EachBatchPayload) => Promise<void>; seek: ReturnType<typeof vi.fn> } {
  const listeners = new Map<string, (event: unknown) => void>();
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const seek = vi.fn();
  const consumer = {
    events: { GROUP_JOIN: 'group-join', REBALANCING: 'rebalancing', CRASH: 'crash' },
    on: (event: string, listener: (event: unknown) => void) => listeners.set(event, listener),
    connect: async () => {},
    subscribe: async () => {},
    run: async (config: { eachBatch: (payload: EachBatchPayload) => Promise<void> }) => {
      eachBatch = config.eachBatch;
      setImmediate(() => listeners.get('group-join')?.({ payload: { memberId: 'member-1', isLeader: true, memberAssignment: {}, duration: 1 } }));
    },
    disconnect: async () => {},
    seek,
  } as unknown as Consumer;
  return {
    consumer,
    eachBatch: () => {
      if (eachBatch === undefined) {
        throw new Error('the subscription has not run the consumer yet');
      }
      return eachBatch;
    },
    seek,
  };
}

/** Returns an eachBatch payload of `offsets` on partition 0 of topic "events", with spies for its callbacks. */
function payloadOf(offsets: number[], heartbeat: () => Promise<void> = async () => {}) {
  const messages = offsets.map((offset) => ({ offset: String(offset), key: null, value: Buffer.from(String(offset)), headers: {}, timestamp: '0', attributes: 0 }));
  const payload = {
    batch: { topic: 'events', partition: 0, messages },
    resolveOffset: vi.fn(),
    heartbeat,
    isRunning: () => true,
    commitOffsetsIfNecessary: vi.fn(async () => {}),
  };
  return payload;
}

async function startSubscription(handleBatch: (batch: RecordBatch) => Promise<void>) {
  const fake = fakeConsumer();
  const subscription = new KafkaSubscription(fake.consumer, { groupId: 'group', topics: ['events'], fromBeginning: true, handleBatch }, SETTINGS, pino({ level: 'silent' }), () => {});
  await subscription.start();
  return { ...fake, subscription };
}

describe('KafkaSubscription', () => {
  it('names the likely causes of a join timeout', async () => {
    const fake = fakeConsumer();
    // The consumer runs but never joins, as when SyncGroup fails until the limit passes.
    const neverJoins = { ...fake.consumer, run: async () => {} } as unknown as Consumer;
    const settings = { ...SETTINGS, groupJoinTimeoutMs: 50 };
    const subscription = new KafkaSubscription(neverJoins, { groupId: 'group', topics: ['events'], fromBeginning: true, handleBatch: async () => {} }, settings, pino({ level: 'silent' }), () => {});

    const failure = subscription.start();

    await expect(failure).rejects.toMatchObject({ code: 'BUS_ERR_SUBSCRIBE_FAILED' });
    await expect(failure).rejects.toThrow('consumer group "group" was not joined within 50 ms: the brokers were unreachable, or a rebalance did not settle within that time');
    await expect(failure).rejects.toThrow('the session timeout of a member that left without leaving the group');
    await expect(failure).rejects.toThrow('the consumer timings to check are the session timeout, the heartbeat interval and the rebalance timeout');
  });

  it('moves the fetch position before the handler call', async () => {
    let releaseCall: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      releaseCall = resolve;
    });
    const { eachBatch, subscription } = await startSubscription(() => gate);
    const payload = payloadOf([0, 1, 2]);

    await eachBatch()(payload as unknown as EachBatchPayload);

    expect(payload.resolveOffset).toHaveBeenCalledWith('2');
    expect(payload.commitOffsetsIfNecessary).not.toHaveBeenCalled();
    releaseCall();
    await vi.waitFor(() => expect(payload.commitOffsetsIfNecessary).toHaveBeenCalledTimes(1));
    expect(payload.commitOffsetsIfNecessary).toHaveBeenCalledWith({ topics: [{ topic: 'events', partitions: [{ partition: 0, offset: '3' }] }] });
    await subscription.stop();
  });

  it('fetches again after a failed heartbeat', async () => {
    const { eachBatch, seek, subscription } = await startSubscription(async () => {
      throw new Error('simulated store outage');
    });
    const payload = payloadOf([5, 6], async () => {
      throw new Error('simulated rebalance');
    });

    await eachBatch()(payload as unknown as EachBatchPayload);

    await vi.waitFor(() => expect(seek).toHaveBeenCalledTimes(1));
    expect(seek).toHaveBeenCalledWith({ topic: 'events', partition: 0, offset: '5' });
    expect(payload.commitOffsetsIfNecessary).not.toHaveBeenCalled();
    await subscription.stop();
  });
});
