import type { Interaction } from '@nexttap/events';
import { describe, expect, it } from 'vitest';
import {
  aggregateWrites,
  applyInteractions,
  encodeRecent,
  FEATURE_SETTINGS,
  planInteraction,
  toRecentEntry,
  type FeatureStore,
  type PlannedWrite,
  type ReadRequest,
  type ReadResult,
  type RecentEntry,
} from '../src/index';

const MINUTE_MS = 60_000;
const START_MS = Date.UTC(2026, 0, 1);

/** A store that returns a fixed recent list for every session and keeps the writes it is given. */
class RecordingStore implements FeatureStore {
  applied: PlannedWrite[] = [];

  constructor(private readonly storedRecent: readonly string[]) {}

  async apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    this.applied.push(...writes);
    return writes.map(() => true);
  }

  async read(requests: readonly ReadRequest[]): Promise<ReadResult[]> {
    return requests.map((request): ReadResult => (request.kind === 'list' ? { kind: 'list', value: [...this.storedRecent] } : { kind: 'strings', value: [] }));
  }

  async close(): Promise<void> {}
}

function tap(index: number, tMs: number, itemId: string): Interaction {
  return { eventId: `e${index}`, type: 'tap', ts: tMs, sessionId: 's1', itemId };
}

/** Plans `events` with every stored entry decoded, the reference for applyInteractions, which decodes only the entries a scan can reach. */
function planWithFullRecent(events: readonly Interaction[], stored: readonly Interaction[]): PlannedWrite[] {
  let recent: RecentEntry[] = stored.map((event) => toRecentEntry(event));
  return events.map((event) => {
    const write = planInteraction(event, undefined, { recent });
    recent = [toRecentEntry(event), ...recent].slice(0, FEATURE_SETTINGS.sessionRecentMax);
    return write;
  });
}

describe('applyInteractions', () => {
  it('plans the same writes from a cut recent list', async () => {
    // Stored events, newest first, with times out of order. The batch's earliest event (z, at
    // -3 min) looks back to -33 min, so its scan reads a to d and stops at e. The scans of x and y
    // stop at c, which is outside their windows.
    const stored = [
      tap(1, START_MS - 5 * MINUTE_MS, 'a'),
      tap(2, START_MS - 20 * MINUTE_MS, 'b'),
      tap(3, START_MS - 31 * MINUTE_MS, 'c'),
      tap(4, START_MS - 2 * MINUTE_MS, 'd'),
      tap(5, START_MS - 90 * MINUTE_MS, 'e'),
    ];
    const events = [tap(10, START_MS, 'x'), tap(11, START_MS + 15 * MINUTE_MS, 'y'), tap(12, START_MS - 3 * MINUTE_MS, 'z')];
    const store = new RecordingStore(stored.map((event) => encodeRecent(event)));

    await applyInteractions(store, events);

    expect(aggregateWrites(store.applied)).toStrictEqual(aggregateWrites(planWithFullRecent(events, stored)));
  });

  it('links only the items inside the window', async () => {
    const stored = [tap(1, START_MS - 5 * MINUTE_MS, 'a'), tap(2, START_MS - 31 * MINUTE_MS, 'b'), tap(3, START_MS - MINUTE_MS, 'c')];
    const store = new RecordingStore(stored.map((event) => encodeRecent(event)));

    await applyInteractions(store, [tap(10, START_MS, 'x')]);

    const covisitKeys = aggregateWrites(store.applied).batch.zsetDecay.keys.filter((key) => key.endsWith(':neighbours'));
    expect(covisitKeys).toStrictEqual(['i:{a}:neighbours']);
  });
});
