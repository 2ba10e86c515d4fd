import type { CatalogItem } from '@nexttap/events';
import { describe, expect, it } from 'vitest';
import { runReplay, type ReplayReport } from '../src/index';
import { event, item, jsonlInput, T0 } from './fixtures';

/**
 * Builds a log where the popularity order is known. Before the cut-off, A is liked in five
 * sessions, and B and C in two each, C earlier, so B's decayed count is higher. D and E have no
 * engagement. After it, three sessions each skip E and then like one item. The popular baseline ranks A, B, C, D for
 * each of them (E is dropped as engaged), because the likes of B and D during the evaluation never
 * lift them past the next item.
 */
function handBuiltLog() {
  const catalog = [item('A', ['x']), item('B', ['x', 'y']), item('C', ['y']), item('D', ['z']), item('E', ['z'])];
  const warm = [
    ...['s1', 's2', 's3', 's4', 's5'].map((sessionId, index) => event('like', sessionId, 'A', index)),
    event('like', 's3', 'C', 6),
    event('like', 's4', 'C', 7),
    event('like', 's1', 'B', 10),
    event('like', 's2', 'B', 11),
  ];
  const cutoffMs = T0 + 100_000;
  const evaluated = [
    event('skip', 'x', 'E', 100),
    event('like', 'x', 'B', 101),
    event('skip', 'y', 'E', 110),
    event('like', 'y', 'D', 111),
    event('skip', 'z', 'E', 120),
    event('like', 'z', 'A', 121),
    // A like that opens its session, then a second like of the same item: neither is a point.
    event('like', 'w', 'C', 130),
    event('like', 'w', 'C', 131),
  ];
  return { input: jsonlInput([...warm, ...evaluated], catalog), cutoffMs };
}

async function replayHandBuiltLog(): Promise<ReplayReport> {
  const { input, cutoffMs } = handBuiltLog();
  const { report } = await runReplay({ input, baselines: ['popular'], ks: [1, 3], cutoffMs, poolRefreshEvents: 1, bootstrapResamples: 200 });
  return report;
}

describe('replay of a hand-built log', () => {
  it('ranks each target where popularity puts it', async () => {
    const report = await replayHandBuiltLog();
    expect(report.evaluations.ranks.popular).toEqual([2, 4, 1]);
  });

  it('computes HitRate, NDCG and MRR from those ranks', async () => {
    const metrics = (await replayHandBuiltLog()).rankers[0]?.metrics;
    expect(metrics?.hitRate['1']?.value).toBeCloseTo(1 / 3, 6);
    expect(metrics?.hitRate['3']?.value).toBeCloseTo(2 / 3, 6);
    expect(metrics?.ndcg['1']?.value).toBeCloseTo(1 / 3, 6);
    expect(metrics?.ndcg['3']?.value).toBeCloseTo((1 / Math.log2(3) + 1) / 3, 6);
    expect(metrics?.mrr.value).toBeCloseTo((1 / 2 + 1 / 4 + 1) / 3, 6);
  });

  it('computes coverage and diversity of the top lists', async () => {
    const metrics = (await replayHandBuiltLog()).rankers[0]?.metrics;
    // Top-1 is A at every point, top-3 is A, B, C: 1 and 3 of the 5 catalogue items.
    expect(metrics?.coverage['1']?.value).toBeCloseTo(1 / 5, 6);
    expect(metrics?.coverage['3']?.value).toBeCloseTo(3 / 5, 6);
    // Jaccard distances of {x}, {x, y}, {y}: 1/2, 1 and 1/2.
    expect(metrics?.diversity['3']?.value).toBeCloseTo(2 / 3, 6);
    expect(metrics?.diversity['1']?.value).toBeNull();
  });

  it('counts in coverage only the items a full ranking could hold', async () => {
    const { input, cutoffMs } = handBuiltLog();
    // F has a catalog record but neither a publish date nor an event, so it is never applied, and
    // G and H appear only in events, so candidate generation never proposes them.
    const unpublished: CatalogItem = { itemId: 'F', categories: ['x'] };
    const extraEvents = [event('tap', 'g', 'G', 50), event('tap', 'h', 'H', 51)];
    const { report } = await runReplay({
      input: { ...input, catalog: [...input.catalog, unpublished], events: [...input.events, ...extraEvents] },
      baselines: ['popular'],
      ks: [1, 3],
      cutoffMs,
      poolRefreshEvents: 1,
      bootstrapResamples: 200,
    });
    // Top-1 is A at every point: 1 of the 5 applied catalog items A to E.
    expect(report.rankers[0]?.metrics.coverage['1']?.value).toBeCloseTo(1 / 5, 6);
  });

  it('counts the target events it left out', async () => {
    const { counts } = await replayHandBuiltLog();
    expect(counts.targetEventsInWindow).toBe(5);
    expect(counts.evaluationPoints).toBe(3);
    expect(counts.skippedFirstInSession).toBe(1);
    expect(counts.skippedAlreadyEngaged).toBe(1);
  });

  it('starts evaluating at the cut-off', async () => {
    const { window } = await replayHandBuiltLog();
    expect(window.evaluateFromMs).toBe(T0 + 100_000);
    expect(window.cutoffSource).toBe('the cutoff option');
  });

  it('leaves the negatives out of a full report', async () => {
    const { candidates } = await replayHandBuiltLog();
    expect(candidates).not.toHaveProperty('meanNegatives');
  });
});

describe('sampled replay of a hand-built log', () => {
  // One log for every run, because `event` numbers the event ids afresh on each call.
  const { input, cutoffMs } = handBuiltLog();

  async function replaySampled(): Promise<string> {
    const { report } = await runReplay({ input, baselines: ['popular'], protocol: 'sampled', negatives: 100, cutoffMs, poolRefreshEvents: 1, bootstrapResamples: 200 });
    return JSON.stringify(report, null, 2);
  }

  it('reports the mean of the negatives drawn', async () => {
    const report = JSON.parse(await replaySampled()) as ReplayReport;
    // Each of the three points has the five items less the target and E, which its session skipped.
    expect(report.candidates.meanNegatives).toBe(3);
    expect(report.candidates.meanCount).toBe(4);
    expect(report.settings.negatives).toBe(100);
  });

  it('writes byte-identical sampled reports for the same seed', async () => {
    expect(await replaySampled()).toBe(await replaySampled());
  });
});
