import { describe, expect, it } from 'vitest';
import type { DeliveredRecord } from '../src/event-bus';
import { PartitionQueue } from '../src/partition-queue';

function records(...offsets: number[]): DeliveredRecord[] {
  return offsets.map((offset) => ({
    topic: 'events',
    partition: 0,
    offset: String(offset),
    key: null,
    value: null,
    headers: {},
    timestampMs: 0,
  }));
}

function offsetsOf(records: readonly DeliveredRecord[]): string[] {
  return records.map((record) => record.offset);
}

describe('PartitionQueue', () => {
  it('takes appended batches merged', () => {
    const queue = new PartitionQueue('events', 0, 10);
    queue.append(records(0, 1));
    queue.append(records(2));

    expect(offsetsOf(queue.take())).toEqual(['0', '1', '2']);
    expect(queue.length).toBe(0);
  });

  it('takes at most maxRecords per call', () => {
    const queue = new PartitionQueue('events', 0, 2);
    queue.append(records(0, 1, 2, 3, 4));

    expect(offsetsOf(queue.take())).toEqual(['0', '1']);
    expect(offsetsOf(queue.take())).toEqual(['2', '3']);
    expect(offsetsOf(queue.take())).toEqual(['4']);
  });

  it('drops records appended before', () => {
    const queue = new PartitionQueue('events', 0, 10);
    queue.append(records(0, 1, 2));
    queue.take();

    expect(queue.append(records(1, 2, 3))).toBe(2);
    expect(offsetsOf(queue.take())).toEqual(['3']);
  });

  it('keeps a gap in the offsets', () => {
    const queue = new PartitionQueue('events', 0, 10);
    queue.append(records(0));

    expect(queue.append(records(5, 6))).toBe(0);
    expect(offsetsOf(queue.take())).toEqual(['0', '5', '6']);
  });

  it('waits for room until a take', async () => {
    const queue = new PartitionQueue('events', 0, 2);
    queue.append(records(0, 1, 2));
    let roomMade = false;
    const room = queue.waitForRoom().then(() => {
      roomMade = true;
    });

    await Promise.resolve();
    expect(roomMade).toBe(false);
    queue.take();
    await room;
    expect(roomMade).toBe(true);
  });

  it('resolves waitForRoom at once below maxRecords', async () => {
    const queue = new PartitionQueue('events', 0, 2);
    queue.append(records(0));

    await expect(queue.waitForRoom()).resolves.toBeUndefined();
  });

  it('drops waiting records when retired', async () => {
    const queue = new PartitionQueue('events', 0, 1);
    queue.append(records(0, 1));
    const room = queue.waitForRoom();

    queue.retire();

    await expect(room).resolves.toBeUndefined();
    expect(queue.retired).toBe(true);
    expect(queue.length).toBe(0);
    expect(queue.append(records(2))).toBe(1);
    expect(queue.length).toBe(0);
  });

  it('becomes idle after the replaced queue', async () => {
    let releasePrevious: () => void = () => {};
    const previous = new Promise<void>((resolve) => {
      releasePrevious = resolve;
    });
    const queue = new PartitionQueue('events', 0, 10, previous);
    let idle = false;
    const settled = queue.idle().then(() => {
      idle = true;
    });

    await Promise.resolve();
    expect(idle).toBe(false);
    releasePrevious();
    await settled;
    expect(idle).toBe(true);
  });
});
