import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadRankingModel, writeLinearModel, type RankingModel } from '@nexttap/model';
import { MemoryFeatureStore } from '@nexttap/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kendallTau, topKOverlap } from '../src/index';
import { startRanker, writeCatalog, writeEvents, type RankerApp } from './ranker-fixture';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const TOKEN = 'shadow-test-token-93ad0e';
const CANDIDATES = Array.from({ length: 30 }, (_, index) => `item-${index}`);
const SHADOW_DELAY_MS = 200;

describe('kendallTau', () => {
  it('is 1 for the same order and -1 for the reverse', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
  });

  it('counts discordant pairs', () => {
    // One swapped pair of six: (5 - 1) / 6.
    expect(kendallTau([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 10);
  });

  it('corrects for ties (tau-b)', () => {
    // Pairs: 5 concordant, 0 discordant, 1 tied in the first list only: 5 / sqrt(5 · 6).
    expect(kendallTau([1, 1, 2, 3], [1, 2, 3, 4])).toBeCloseTo(5 / Math.sqrt(30), 10);
  });

  it('is undefined for a constant list', () => {
    expect(kendallTau([1, 1, 1], [1, 2, 3])).toBeUndefined();
  });
});

describe('topKOverlap', () => {
  it('is the shared share of the top K', () => {
    expect(topKOverlap([5, 4, 3, 2, 1], [1, 4, 3, 2, 5], 2)).toBe(0.5);
    expect(topKOverlap([5, 4, 3], [5, 4, 3], 10)).toBe(1);
    expect(topKOverlap([], [], 3)).toBeUndefined();
  });
});

describe('shadow scoring', () => {
  let root: string;
  let ranker: RankerApp;

  const feed = (sessionId: string) => ranker.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId, candidates: CANDIDATES, limit: 10 } });

  async function metricValue(name: string, suffix: string): Promise<number> {
    const metric = (await ranker.metrics.getMetricsAsJSON()).find((entry) => entry.name === name);
    const values = (metric?.values ?? []) as Array<{ metricName?: string; value: number }>;
    return values.filter((entry) => entry.metricName === `${name}${suffix}`).reduce((sum, entry) => sum + entry.value, 0);
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'nexttap-shadow-'));
    await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1 });
    // The shadow reads a feature the live model does not, so the union of both is computed.
    await writeLinearModel(join(root, 'other', '1'), { item_popularity_week: 1, item_category_count: 0.5 }, { name: 'other' });
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await writeCatalog(store, CANDIDATES.map((itemId, index) => ({ itemId, categories: index % 3 === 0 ? ['Drama', 'War'] : ['Comedy'] })));
    await writeEvents(store, NOW_MS, CANDIDATES.flatMap((itemId, index) => Array.from({ length: index % 7 }, () => ({ itemId, type: 'like' as const }))));
    ranker = await startRanker(store, join(root, 'linear', '1'), () => NOW_MS, { modelsDir: root, adminToken: TOKEN, feedStoreBudgetMs: '10000' });
  });

  afterAll(async () => {
    await ranker.close();
    await rm(root, { recursive: true, force: true });
  });

  it('adds no latency to the response', async () => {
    const inner = await loadRankingModel(join(root, 'other', '1'));
    let shadowRuns = 0;
    const sleepy: RankingModel = {
      ...inner,
      score: async (matrix) => {
        await new Promise((resolve) => setTimeout(resolve, SHADOW_DELAY_MS));
        shadowRuns += 1;
        return inner.score(matrix);
      },
    };
    await ranker.ranker.models.useLoadedShadow(sleepy);

    const durations: number[] = [];
    for (let request = 0; request < 10; request++) {
      const startedAt = performance.now();
      const response = await feed(`session-${request}`);
      durations.push(performance.now() - startedAt);
      expect(response.statusCode).toBe(200);
    }
    // Each response came back well before one shadow run could have finished.
    expect(Math.max(...durations)).toBeLessThan(SHADOW_DELAY_MS / 2);
    expect(shadowRuns).toBe(0);

    await expect.poll(() => shadowRuns, { timeout: 5_000 }).toBe(10);
    await expect.poll(() => metricValue('nexttap_shadow_kendall_tau', '_count')).toBe(10);
    expect(await metricValue('nexttap_shadow_top_k_overlap', '_count')).toBe(10);
    expect(await metricValue('nexttap_shadow_duration_seconds', '_sum')).toBeGreaterThanOrEqual((10 * SHADOW_DELAY_MS * 0.9) / 1000);
  });

  it('records full agreement for a model that ranks alike', async () => {
    expect((await ranker.app.inject({ method: 'POST', url: '/v1/admin/models/shadow', headers: { authorization: `Bearer ${TOKEN}` }, payload: { model: 'linear@1' } })).json()).toEqual({ shadow: 'linear@1' });
    const tauBefore = await metricValue('nexttap_shadow_kendall_tau', '_sum');
    const overlapBefore = await metricValue('nexttap_shadow_top_k_overlap', '_sum');
    expect((await feed('alike')).statusCode).toBe(200);
    await expect.poll(() => ranker.ranker.shadow.pendingRuns).toBe(0);
    await expect.poll(() => metricValue('nexttap_shadow_kendall_tau', '_sum')).toBeCloseTo(tauBefore + 1, 6);
    expect(await metricValue('nexttap_shadow_top_k_overlap', '_sum')).toBeCloseTo(overlapBefore + 1, 6);

    const removed = await ranker.app.inject({ method: 'DELETE', url: '/v1/admin/models/shadow', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(removed.json()).toEqual({ shadow: null });
  });

  it('labels every model metric as name@version', async () => {
    const admin = { authorization: `Bearer ${TOKEN}` };
    expect((await ranker.app.inject({ method: 'POST', url: '/v1/admin/models/shadow', headers: admin, payload: { model: 'other@1' } })).statusCode).toBe(200);
    expect((await feed('labelled')).statusCode).toBe(200);
    await expect.poll(() => ranker.ranker.shadow.pendingRuns).toBe(0);
    await ranker.app.inject({ method: 'DELETE', url: '/v1/admin/models/shadow', headers: admin });

    // Every label that names a model, on every metric of the ranker.
    const labelled = new Map<string, Set<string>>();
    for (const metric of await ranker.metrics.getMetricsAsJSON()) {
      for (const entry of metric.values as Array<{ labels: Record<string, string | number> }>) {
        for (const label of ['model', 'shadow']) {
          const value = entry.labels[label];
          if (value !== undefined) {
            labelled.set(`${metric.name}{${label}}`, (labelled.get(`${metric.name}{${label}}`) ?? new Set()).add(String(value)));
          }
        }
      }
    }
    expect([...(labelled.get('nexttap_feed_duration_seconds{model}') ?? [])]).toContain('linear@1');
    expect([...(labelled.get('nexttap_shadow_kendall_tau{shadow}') ?? [])]).toContain('other@1');
    for (const [metric, values] of labelled) {
      for (const value of values) {
        expect(value, metric).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9._-]*$/);
      }
    }
  });
});
