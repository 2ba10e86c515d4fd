import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateInteraction, type Interaction, type InteractionInput } from '@nexttap/events';
import { attributeToExperiments } from '@nexttap/ingest';
import { wilsonInterval, writeLinearModel } from '@nexttap/model';
import { MemoryFeatureStore } from '@nexttap/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { assignmentPoint, experimentReportSchema, experimentStartedSchema, experimentStoppedSchema, pickVariant, servingStateSchema } from '../src/index';
import { startRanker, writeCatalog, type RankerApp } from './ranker-fixture';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const TOKEN = 'experiment-test-token-77c1';
const CANDIDATES = ['a', 'b', 'c', 'd', 'e'];

describe('sticky assignment', () => {
  it('puts the same id in the same variant', () => {
    const weights = [1, 1, 1];
    for (let user = 0; user < 1_000; user++) {
      const first = pickVariant(weights, assignmentPoint('salt-1', `user-${user}`));
      expect(pickVariant(weights, assignmentPoint('salt-1', `user-${user}`))).toBe(first);
    }
  });

  it('holds the weights within 2% over 100,000 ids', () => {
    const weights = [50, 30, 20];
    const counts = [0, 0, 0];
    for (let user = 0; user < 100_000; user++) {
      const index = pickVariant(weights, assignmentPoint('checkout-2026', `user-${user}`));
      counts[index] = (counts[index] ?? 0) + 1;
    }
    expect(Math.abs((counts[0] ?? 0) / 100_000 - 0.5)).toBeLessThan(0.02);
    expect(Math.abs((counts[1] ?? 0) / 100_000 - 0.3)).toBeLessThan(0.02);
    expect(Math.abs((counts[2] ?? 0) / 100_000 - 0.2)).toBeLessThan(0.02);
  });

  it('splits independently under another salt', () => {
    let same = 0;
    for (let user = 0; user < 10_000; user++) {
      const first = pickVariant([1, 1], assignmentPoint('salt-a', `user-${user}`));
      same += first === pickVariant([1, 1], assignmentPoint('salt-b', `user-${user}`)) ? 1 : 0;
    }
    // Independent halves agree for about half of the users.
    expect(Math.abs(same / 10_000 - 0.5)).toBeLessThan(0.03);
  });
});

describe('wilsonInterval', () => {
  it('matches a published value', () => {
    // 8 successes in 10 trials at 95%: [0.490, 0.943] (Newcombe, Statistics in Medicine 1998, method 3).
    const estimate = wilsonInterval(8, 10);
    expect(estimate.low).toBeCloseTo(0.49, 2);
    expect(estimate.high).toBeCloseTo(0.943, 2);
  });

  it('puts the lower bound of no successes at 0', () => {
    // Without the exact bound, 3 trials gave 5.6e-17 and 1,000 trials 2.2e-19.
    for (let trials = 1; trials <= 1_000; trials += 1) {
      expect(wilsonInterval(0, trials).low).toBe(0);
    }
  });

  it('puts the upper bound of all successes at 1', () => {
    for (let trials = 1; trials <= 1_000; trials += 1) {
      expect(wilsonInterval(trials, trials).high).toBe(1);
    }
  });

  it('has no bounds without trials', () => {
    expect(wilsonInterval(0, 0)).toEqual({ value: null, low: null, high: null });
  });
});

describe('experiment over HTTP', () => {
  let root: string;
  let store: MemoryFeatureStore;
  let ranker: RankerApp;
  let eventCount = 0;

  const admin = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    ranker.app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(payload === undefined ? {} : { payload }) });

  const feedFor = async (userId: string) => {
    const response = await ranker.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: `session-${userId}`, userId, candidates: CANDIDATES, limit: 5 } });
    expect(response.statusCode).toBe(200);
    return response.json() as { feedId: string; model: { version: string; variant: string }; items: Array<{ itemId: string }> };
  };

  const event = (partial: Partial<InteractionInput>): Interaction => {
    const result = validateInteraction({ eventId: `x-${eventCount++}`, type: 'impression', ts: NOW_MS - 1_000, sessionId: 'none', itemId: 'a', ...partial }, { nowMs: NOW_MS });
    if (!result.ok) throw new Error(result.rejection.message);
    return result.value;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'nexttap-experiment-'));
    await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1 });
    await writeLinearModel(join(root, 'linear', '2'), { item_popularity_week: 2 }, { version: '2' });
    store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await writeCatalog(store, CANDIDATES.map((itemId) => ({ itemId, categories: ['Drama'] })));
    ranker = await startRanker(store, join(root, 'linear', '1'), () => NOW_MS, { modelsDir: root, adminToken: TOKEN, feedStoreBudgetMs: '10000' });
  });

  afterAll(async () => {
    await ranker.close();
    await rm(root, { recursive: true, force: true });
  });

  it('rejects variants with repeated names', async () => {
    const response = await admin('POST', '/v1/admin/experiments', {
      id: 'bad',
      variants: [{ name: 'a', model: 'linear@1', weight: 1 }, { name: 'a', model: 'linear@2', weight: 1 }],
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toContain('unique');
  });

  it('rejects weights whose sum is not finite', async () => {
    const response = await admin('POST', '/v1/admin/experiments', {
      id: 'overflow',
      variants: [{ name: 'a', model: 'linear@1', weight: 1e308 }, { name: 'b', model: 'linear@2', weight: 1e308 }],
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RANKER_ERR_INVALID_REQUEST');
    expect(response.json().error.field).toBe('variants');
    expect(response.json().error.message).toMatch(/^variants have weights that add up to more than 1\.7976931348623157e\+308, the largest finite number; send small relative weights such as 1 and 1 \(received /);
    expect((await admin('GET', '/v1/admin/models')).json().experiment).toBeUndefined();
  });

  it('rejects a weight that JSON reads as Infinity', async () => {
    const payload = '{"id":"infinite","variants":[{"name":"a","model":"linear@1","weight":1e400}]}';
    const response = await ranker.app.inject({ method: 'POST', url: '/v1/admin/experiments', payload, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'RANKER_ERR_INVALID_REQUEST',
      field: 'variants.0.weight',
      message: 'variants.0.weight must be a finite number; received Infinity',
    });
  });

  it.each([
    [{ id: 'e' }, 'variants', 'variants is missing; send it as an array'],
    [{ id: 'e', variants: [] }, 'variants', 'variants must have at least 1 entry; received []'],
    [{ id: 'e', variants: [{ name: 'a', model: 'linear@1', weight: 0 }] }, 'variants.0.weight', 'variants.0.weight must be greater than 0; received 0'],
    [{ id: 'e', variants: [{ name: 'a', model: '', weight: 1 }] }, 'variants.0.model', 'variants.0.model must not be empty; received ""'],
    [{ id: 'e', variants: [{ name: 'a', weight: 1 }] }, 'variants.0.model', 'variants.0.model is missing; send it as a string'],
    [{ id: 'e', variants: [{ name: 'a', model: 'linear@1', weight: '1' }] }, 'variants.0.weight', 'variants.0.weight must be a number; received "1"'],
  ])('names the field and the fix for %j', async (body, field, message) => {
    const response = await admin('POST', '/v1/admin/experiments', body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'RANKER_ERR_INVALID_REQUEST', field, message });
  });

  it.each([
    ['an unknown model', 'nope@1', 404, 'RANKER_ERR_MODEL_NOT_FOUND', /^variants\.1\.model: model nope@1 not found: /],
    ['a malformed reference', '../x@1', 400, 'RANKER_ERR_INVALID_REQUEST', /^variants\.1\.model: /],
  ])('names the variant index of %s', async (_case, model, status, code, message) => {
    const response = await admin('POST', '/v1/admin/experiments', {
      id: 'unknown-model',
      variants: [{ name: 'a', model: 'linear@1', weight: 1 }, { name: 'b', model, weight: 1 }],
    });
    expect(response.statusCode).toBe(status);
    expect(response.json().error.code).toBe(code);
    expect(response.json().error.field).toBe('variants.1.model');
    expect(response.json().error.message).toMatch(message);
    expect((await admin('GET', '/v1/admin/models')).json().experiment).toBeUndefined();
  });

  it('serves each user the variant of its hash and counts attributed events', async () => {
    const started = await admin('POST', '/v1/admin/experiments', {
      id: 'ab-1',
      salt: 'ab-1-salt',
      variants: [{ name: 'control', model: 'linear@1', weight: 1 }, { name: 'double', model: 'linear@2', weight: 1 }],
    });
    expect(started.statusCode, started.body).toBe(200);

    const feeds = new Map<string, Awaited<ReturnType<typeof feedFor>>>();
    for (let user = 0; user < 40; user++) {
      const userId = `user-${user}`;
      const feed = await feedFor(userId);
      const expected = pickVariant([1, 1], assignmentPoint('ab-1-salt', userId)) === 0 ? 'control' : 'double';
      expect(feed.model.variant).toBe(expected);
      expect(feed.model.version).toBe(expected === 'control' ? '1' : '2');
      expect((await feedFor(userId)).model.variant).toBe(expected);
      feeds.set(userId, feed);
    }

    // Every feed gets impressions of its first 3 items. Users 0-9 tap the item at position 2 twice,
    // each tap with 4 s of dwell, and users 10-14 skip the first item.
    const events: Interaction[] = [];
    for (const [userId, feed] of feeds) {
      const sessionId = `session-${userId}`;
      const user = Number(userId.slice('user-'.length));
      for (const item of feed.items.slice(0, 3)) {
        events.push(event({ type: 'impression', sessionId, userId, itemId: item.itemId, feedId: feed.feedId }));
      }
      if (user < 10) {
        const tapped = feed.items[2]?.itemId as string;
        events.push(event({ type: 'tap', sessionId, userId, itemId: tapped, feedId: feed.feedId, dwellMs: 4_000 }));
        events.push(event({ type: 'tap', sessionId, userId, itemId: tapped, feedId: feed.feedId, dwellMs: 4_000 }));
      } else if (user < 15) {
        events.push(event({ type: 'skip', sessionId, userId, itemId: feed.items[0]?.itemId as string, feedId: feed.feedId }));
      }
    }
    await attributeToExperiments(store, events);
    // A redelivered batch changes nothing.
    await attributeToExperiments(store, events);

    const response = await admin('GET', '/v1/experiments/ab-1');
    expect(response.statusCode).toBe(200);
    const report = response.json();
    expect(report.running).toBe(true);
    expect(report.intervals).toContain('Wilson');
    const byName = new Map(report.variants.map((variant: { name: string }) => [variant.name, variant]));
    const usersOf = (name: string) => [...feeds.entries()].filter(([, feed]) => feed.model.variant === name).map(([userId]) => Number(userId.slice(5)));
    let feedsTotal = 0;
    for (const name of ['control', 'double']) {
      const users = usersOf(name);
      const tappers = users.filter((user) => user < 10).length;
      const skippers = users.filter((user) => user >= 10 && user < 15).length;
      const variant = byName.get(name) as { counts: Record<string, number>; tapThroughRate: { value: number; low: number; high: number }; meanFirstTapPosition: { value: number | null }; meanDwellSeconds: { value: number | null }; model: string };
      // Each user asked for two feeds; both were served first pages.
      expect(variant.counts.feeds).toBe(users.length * 2);
      expect(variant.counts.impressions).toBe(users.length * 3);
      expect(variant.counts.taps).toBe(tappers * 2);
      expect(variant.counts.tappedFeeds).toBe(tappers);
      expect(variant.counts.skips).toBe(skippers);
      expect(variant.counts.dwellEvents).toBe(tappers * 2);
      expect(variant.tapThroughRate.value).toBeCloseTo(tappers / (users.length * 2), 10);
      expect(variant.tapThroughRate.low).toBeLessThanOrEqual(variant.tapThroughRate.value);
      expect(variant.tapThroughRate.high).toBeGreaterThanOrEqual(variant.tapThroughRate.value);
      expect(variant.meanFirstTapPosition.value).toBe(tappers > 0 ? 2 : null);
      expect(variant.meanDwellSeconds.value).toBe(tappers > 0 ? 4 : null);
      expect(variant.model).toBe(name === 'control' ? 'linear@1' : 'linear@2');
      feedsTotal += variant.counts.feeds ?? 0;
    }
    expect(feedsTotal).toBe(80);
  });

  it('keeps the metrics after the experiment stops', async () => {
    expect((await admin('DELETE', '/v1/admin/experiments/ab-1')).statusCode).toBe(200);
    expect((await feedFor('user-0')).model.variant).toBe('default');
    const report = (await admin('GET', '/v1/experiments/ab-1')).json();
    expect(report.running).toBe(false);
    expect(report.variants.map((variant: { name: string }) => variant.name)).toEqual(['control', 'double']);
    expect(report.variants.map((variant: { model: string | null }) => variant.model)).toEqual(['linear@1', 'linear@2']);
    expect(report.variants.map((variant: { weight: number | null }) => variant.weight)).toEqual([1, 1]);
    expect(report.variants[0].counts.feeds).toBeGreaterThan(0);
  });

  it('reports the variants of a stopped experiment without traffic', async () => {
    const variants = [{ name: 'b', model: 'linear@2', weight: 0.25 }, { name: 'a', model: 'linear@1', weight: 3 }];
    expect((await admin('POST', '/v1/admin/experiments', { id: 'quiet', variants })).statusCode).toBe(200);
    expect((await admin('DELETE', '/v1/admin/experiments/quiet')).statusCode).toBe(200);

    const response = await admin('GET', '/v1/experiments/quiet');
    expect(response.statusCode).toBe(200);
    const report = response.json();
    expect(report.running).toBe(false);
    expect(report.variants.map((variant: { name: string; model: string | null; weight: number | null }) => [variant.name, variant.model, variant.weight])).toEqual([
      ['b', 'linear@2', 0.25],
      ['a', 'linear@1', 3],
    ]);
    expect(report.variants[0].counts.feeds).toBe(0);
  });

  it('replies as the OpenAPI schemas document', async () => {
    const expectDocumented = (schema: z.ZodTypeAny, body: unknown) => expect(schema.parse(body)).toEqual(body);
    const variants = [{ name: 'a', model: 'linear@1', weight: 1 }, { name: 'b', model: 'linear@2', weight: 2 }];

    expectDocumented(experimentStartedSchema, (await admin('POST', '/v1/admin/experiments', { id: 'documented', salt: 's', variants })).json());
    await feedFor('user-documented');
    const state = (await admin('GET', '/v1/admin/models')).json();
    expect(state.experiment).toMatchObject({ id: 'documented', variants });
    expectDocumented(servingStateSchema, state);
    expectDocumented(experimentReportSchema, (await admin('GET', '/v1/experiments/documented')).json());
    expectDocumented(experimentStoppedSchema, (await admin('DELETE', '/v1/admin/experiments/documented')).json());
    expectDocumented(experimentReportSchema, (await admin('GET', '/v1/experiments/documented')).json());
  });

  it('warns that an activation waits for the running experiment', async () => {
    const variants = [{ name: 'only', model: 'linear@1', weight: 1 }];
    expect((await admin('POST', '/v1/admin/experiments', { id: 'blocking', variants })).statusCode).toBe(200);

    const activated = await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' });
    expect(activated.statusCode).toBe(200);
    expect(activated.json()).toMatchObject({ active: 'linear@2', previous: 'linear@1', changed: true, runningExperiment: 'blocking' });
    expect(activated.json().note).toBe(
      'Experiment blocking is running, so feeds keep following its variants until it is stopped with DELETE /v1/admin/experiments/blocking; linear@2 serves the feeds only after that.',
    );
    expect((await feedFor('user-blocked')).model).toMatchObject({ version: '1', variant: 'only' });

    expect((await admin('DELETE', '/v1/admin/experiments/blocking')).statusCode).toBe(200);
    expect((await feedFor('user-blocked')).model).toMatchObject({ version: '2', variant: 'default' });

    const rolledBack = await admin('POST', '/v1/admin/models/rollback');
    expect(rolledBack.json()).toEqual({ active: 'linear@1', previous: 'linear@2', changed: true });
  });

  it.each([
    ['GET', '/v1/experiments/%20blocking', 'id starts with whitespace (" "); send the experiment id without the surrounding whitespace (received " blocking")'],
    ['DELETE', '/v1/admin/experiments/blocking%09', 'id ends with whitespace ("\\t"); send the experiment id without the surrounding whitespace (received "blocking\\t")'],
  ] as const)('rejects %s %s with whitespace', async (method, url, message) => {
    const response = await admin(method, url);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'RANKER_ERR_INVALID_REQUEST', field: 'id', message } });
  });

  it('replies 404 to an unknown experiment', async () => {
    const response = await admin('GET', '/v1/experiments/never-ran');
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('RANKER_ERR_EXPERIMENT_NOT_FOUND');
  });
});
