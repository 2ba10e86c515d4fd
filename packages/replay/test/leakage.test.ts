import { describe, expect, it } from 'vitest';
import { runReplay, type Protocol } from '../src/index';
import { movieLensSlice } from './fixtures';

/** Early MovieLens ratings: films keep arriving, so many items are first seen after earlier points. */
const SLICE_EVENTS = 3_000;
const EVALUATED_EVENTS = 300;

/** Returns, per item, the time it is first seen: its publication or first rating, whichever is earlier. */
async function firstSeenTimes(): Promise<{ firstSeenMs: Map<string, number>; cutoffMs: number }> {
  const input = await movieLensSlice(SLICE_EVENTS);
  const firstSeenMs = new Map<string, number>();
  for (const item of input.catalog) {
    if (item.publishedAt !== undefined) {
      firstSeenMs.set(item.itemId, item.publishedAt);
    }
  }
  for (const event of input.events) {
    firstSeenMs.set(event.itemId, Math.min(firstSeenMs.get(event.itemId) ?? Number.POSITIVE_INFINITY, event.ts));
  }
  return { firstSeenMs, cutoffMs: (input.events[input.events.length - EVALUATED_EVENTS] as { ts: number }).ts };
}

async function collectLeaks(protocol: Protocol): Promise<{ leaks: string[]; listed: number; laterItems: number }> {
  const input = await movieLensSlice(SLICE_EVENTS);
  const { firstSeenMs, cutoffMs } = await firstSeenTimes();
  const leaks: string[] = [];
  let listed = 0;
  let laterItems = 0;
  const latestFirstSeenMs = Math.max(...firstSeenMs.values());
  await runReplay({
    input,
    baselines: ['popular', 'random'],
    protocol,
    negatives: 50,
    // K = 200 keeps every ranker's whole ranking, up to the ranker's depth of 200 items.
    ks: [10, 200],
    cutoffMs,
    bootstrapResamples: 10,
    onPoint: (point) => {
      laterItems += latestFirstSeenMs > point.tMs ? 1 : 0;
      for (const result of point.results) {
        for (const itemId of result.top) {
          listed += 1;
          if ((firstSeenMs.get(itemId) ?? Number.POSITIVE_INFINITY) > point.tMs) {
            leaks.push(`${itemId} at ${new Date(point.tMs).toISOString()}`);
          }
        }
      }
    },
  });
  return { leaks, listed, laterItems };
}

describe('replay point-in-time correctness', () => {
  it('never ranks an item first seen after the point, with generated candidates', async () => {
    const { leaks, listed, laterItems } = await collectLeaks('full');
    expect(listed).toBeGreaterThan(10_000);
    expect(laterItems).toBeGreaterThan(0);
    expect(leaks).toEqual([]);
  });

  it('never samples an item first seen after the point as a negative', async () => {
    const { leaks, listed } = await collectLeaks('sampled');
    expect(listed).toBeGreaterThan(10_000);
    expect(leaks).toEqual([]);
  });
});
