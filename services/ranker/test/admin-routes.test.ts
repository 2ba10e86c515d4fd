import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadRankingModel, writeLinearModel, type RankingModel } from '@nexttap/model';
import { createLogger, createMetricsRegistry } from '@nexttap/observability';
import { seededRandom } from '@nexttap/rank';
import { MemoryFeatureStore } from '@nexttap/store';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { modelChangeSchema, Ranker, rankerConfigSchema, servingStateSchema, shadowRemovedSchema, shadowSetSchema } from '../src/index';
import { writeCatalog } from './ranker-fixture';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const TOKEN = 'admin-test-token-5b0f9c1e';
const CANDIDATES = ['a', 'b', 'c'];

let root: string;
let store: MemoryFeatureStore;
const logLines: string[] = [];

/** Starts a ranker over the test registry with a logger whose lines land in `logLines`. */
async function startAdminRanker(adminToken: string): Promise<{ app: FastifyInstance; ranker: Ranker; close(): Promise<void> }> {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level: 'debug', service: 'admin-test' }, destination);
  const config = rankerConfigSchema.parse({ modelDir: join(root, 'linear', '1'), modelsDir: root, adminToken, feedStoreBudgetMs: '10000' });
  const ranker = new Ranker({ config, store, logger, metrics: createMetricsRegistry(), clock: () => NOW_MS, random: seededRandom(3) });
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
  await ranker.register(app);
  await ranker.start();
  return {
    app,
    ranker,
    close: async () => {
      await app.close();
      await ranker.stop();
    },
  };
}

let server: Awaited<ReturnType<typeof startAdminRanker>>;

function admin(method: 'GET' | 'POST', url: string, payload?: object, token = TOKEN) {
  return server.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
}

async function servedVersion(): Promise<string> {
  const response = await server.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 's', candidates: CANDIDATES } });
  return response.json().model.version;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nexttap-admin-'));
  await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1 });
  await writeLinearModel(join(root, 'linear', '2'), { item_popularity_week: 2 }, { version: '2' });
  await writeLinearModel(join(root, 'linear', '3'), { item_colour_match: 1 }, { version: '3' });
  store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
  await writeCatalog(store, CANDIDATES.map((itemId) => ({ itemId, categories: ['Drama'] })));
  server = await startAdminRanker(TOKEN);
});

afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('admin routes without ADMIN_TOKEN', () => {
  it('are not registered', async () => {
    const closed = await startAdminRanker('');
    try {
      for (const [method, url] of [['GET', '/v1/admin/models'], ['POST', '/v1/admin/models/activate'], ['POST', '/v1/admin/models/rollback'], ['GET', '/v1/experiments/x']] as const) {
        const response = await closed.app.inject({ method, url, headers: { authorization: 'Bearer anything-at-all-here' }, payload: {} });
        expect(response.statusCode, `${method} ${url}`).toBe(404);
      }
    } finally {
      await closed.close();
    }
  });
});

describe('admin authentication', () => {
  it('rejects a request without the token', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/v1/admin/models' });
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('RANKER_ERR_UNAUTHORIZED');
    expect(response.headers['www-authenticate']).toBe('Bearer');
  });

  it('rejects a wrong token', async () => {
    for (const token of ['wrong', `${TOKEN}x`, TOKEN.slice(0, -1), '']) {
      const response = await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' }, token);
      expect(response.statusCode, token).toBe(401);
    }
    expect(await servedVersion()).toBe('1');
  });

  it('rejects another scheme', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/v1/admin/models', headers: { authorization: `Basic ${TOKEN}` } });
    expect(response.statusCode).toBe(401);
  });

  it('never writes the token to the log', async () => {
    await admin('GET', '/v1/admin/models');
    await admin('POST', '/v1/admin/models/activate', { model: 'linear@9' });
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(TOKEN);
  });
});

describe('model activation', () => {
  it('lists the registry and the live model', async () => {
    const response = await admin('GET', '/v1/admin/models');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ live: 'linear@1', registry: ['linear@1', 'linear@2', 'linear@3'] });
  });

  it('marks the registry versions that fail the quick check', async () => {
    const versions = (await admin('GET', '/v1/admin/models')).json().registryVersions;
    expect(versions.map((version: { model: string; valid: boolean }) => [version.model, version.valid])).toEqual([
      ['linear@1', true],
      ['linear@2', true],
      ['linear@3', false],
    ]);
    expect(versions[0].problem).toBeUndefined();
    expect(versions[2].problem).toContain('item_colour_match');
  });

  it('rejects a query parameter on a POST route', async () => {
    const response = await admin('POST', '/v1/admin/models/rollback?force=1', {});
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'RANKER_ERR_INVALID_REQUEST', field: 'force' });
  });

  it('activates a version and rolls it back', async () => {
    const activated = await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' });
    expect(activated.statusCode).toBe(200);
    expect(activated.json()).toEqual({ active: 'linear@2', previous: 'linear@1', changed: true });
    expect(await servedVersion()).toBe('2');
    expect((await admin('GET', '/v1/admin/models')).json()).toMatchObject({ live: 'linear@2', rollbackTo: 'linear@1' });

    const rolledBack = await admin('POST', '/v1/admin/models/rollback');
    expect(rolledBack.statusCode).toBe(200);
    expect(rolledBack.json()).toEqual({ active: 'linear@1', previous: 'linear@2', changed: true });
    expect(await servedVersion()).toBe('1');
  });

  it('replies 409 to a rollback with no earlier model', async () => {
    const response = await admin('POST', '/v1/admin/models/rollback');
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('RANKER_ERR_NO_PREVIOUS_MODEL');
    expect(response.json().error.message).toBe(
      'the rollback history of this ranker is empty, because earlier rollbacks already switched back to every model it kept (it keeps the model live before each activation); ' +
        'activate the version to serve with POST /v1/admin/models/activate, and GET /v1/admin/models lists the registry',
    );
  });

  it('keeps the history when the live version is activated', async () => {
    expect((await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' })).json()).toEqual({ active: 'linear@2', previous: 'linear@1', changed: true });

    const again = await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ active: 'linear@2', previous: 'linear@1', changed: false });
    expect((await admin('GET', '/v1/admin/models')).json()).toMatchObject({ live: 'linear@2', rollbackTo: 'linear@1', history: ['linear@1'] });
    expect(await servedVersion()).toBe('2');

    const rolledBack = await admin('POST', '/v1/admin/models/rollback');
    expect(rolledBack.json()).toEqual({ active: 'linear@1', previous: 'linear@2', changed: true });
    expect(await servedVersion()).toBe('1');
    expect((await admin('GET', '/v1/admin/models')).json().history).toEqual([]);
  });

  it('says the live version keeps its loaded files', async () => {
    const topScore = async () => (await server.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 's', candidates: CANDIDATES } })).json().items[0].score;
    const before = await topScore();
    // Retrained files written over the live version's folder, as `nexttap train` without --out does.
    await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1, item_category_count: 5 });

    const again = await admin('POST', '/v1/admin/models/activate', { model: 'linear@1' });
    expect(again.statusCode).toBe(200);
    expect(again.json().changed).toBe(false);
    expect(again.json().note).toContain('linear@1 is already live, so nothing changed and its files were not read again');
    expect(again.json().note).toContain('put them in a new version folder and activate that');
    expect(await topScore()).toBe(before);

    // The documented way back to a plain switch: activate another version, then this one again.
    expect((await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' })).json().changed).toBe(true);
    expect((await admin('POST', '/v1/admin/models/activate', { model: 'linear@1' })).json().changed).toBe(true);
    expect(await topScore()).not.toBe(before);

    await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1 });
    expect((await admin('POST', '/v1/admin/models/rollback')).statusCode).toBe(200);
    expect((await admin('POST', '/v1/admin/models/rollback')).statusCode).toBe(200);
    expect((await admin('GET', '/v1/admin/models')).json()).toMatchObject({ live: 'linear@1', history: [] });
    expect(await topScore()).toBe(before);
  });

  it('logs each activation once with the request id', async () => {
    logLines.length = 0;
    expect((await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' })).statusCode).toBe(200);
    expect((await admin('POST', '/v1/admin/models/rollback')).statusCode).toBe(200);
    const changes = logLines.map((line) => JSON.parse(line)).filter((entry) => /^model (activated|rolled back)/.test(entry.msg));
    expect(changes.map((entry) => [entry.msg, entry.model, entry.previous])).toEqual([
      ['model activated', 'linear@2', 'linear@1'],
      ['model rolled back', 'linear@1', 'linear@2'],
    ]);
    expect(changes.every((entry) => typeof entry.reqId === 'string')).toBe(true);
  });

  it('replies 404 to an unknown version', async () => {
    const response = await admin('POST', '/v1/admin/models/activate', { model: 'linear@9' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('RANKER_ERR_MODEL_NOT_FOUND');
  });

  it('replies 422 to an invalid model and keeps serving', async () => {
    const response = await admin('POST', '/v1/admin/models/activate', { model: 'linear@3' });
    expect(response.statusCode).toBe(422);
    expect(response.json().error).toMatchObject({ code: 'RANKER_ERR_MODEL_INVALID', field: 'model' });
    expect(response.json().error.message).toContain('item_colour_match');
    expect(await servedVersion()).toBe('1');
  });

  it.each([
    ['no body', undefined, 'the request has no body; send a JSON object such as {"model":"movielens-mlp@1"} with content-type: application/json'],
    ['null', 'null', 'the body must be a JSON object such as {"model":"movielens-mlp@1"}; received null'],
    ['no model', '{}', 'model is missing; send it as a string'],
    ['a number', '{"model":2}', 'model must be a string; received 2'],
  ])('names the fix for a body with %s', async (_case, payload, message) => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/v1/admin/models/activate',
      headers: { authorization: `Bearer ${TOKEN}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload }),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RANKER_ERR_INVALID_REQUEST');
    expect(response.json().error.message).toBe(message);
  });

  it('replies 400 to a malformed reference', async () => {
    const response = await admin('POST', '/v1/admin/models/activate', { model: '../../etc@passwd' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RANKER_ERR_INVALID_REQUEST');
  });

  it('finishes a running request on the old model and then releases it', async () => {
    const inner = await loadRankingModel(join(root, 'linear', '1'));
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let released = false;
    const slow: RankingModel = {
      ...inner,
      manifest: { ...inner.manifest, version: 'slow' },
      score: async (matrix) => {
        await gate;
        return inner.score(matrix);
      },
      release: async () => {
        released = true;
        await inner.release();
      },
    };
    await server.ranker.useModel(slow);
    const running = server.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 's', candidates: CANDIDATES } });
    await expect.poll(() => server.ranker.models.openSessions).toBeGreaterThan(0);

    expect((await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' })).statusCode).toBe(200);
    expect(await servedVersion()).toBe('2');
    expect(released).toBe(false);

    openGate();
    const response = await running;
    expect(response.statusCode).toBe(200);
    expect(response.json().model.version).toBe('slow');
    expect(response.json().degraded).toBeUndefined();
    await expect.poll(() => released).toBe(true);
  });
});

describe('admin replies', () => {
  /** Checks that `body` has the shape the OpenAPI document gives, with no field the schema lacks. */
  function expectDocumented(schema: z.ZodTypeAny, body: unknown): void {
    expect(schema.parse(body)).toEqual(body);
  }

  it('match the documented schemas', async () => {
    expectDocumented(servingStateSchema, (await admin('GET', '/v1/admin/models')).json());
    expectDocumented(modelChangeSchema, (await admin('POST', '/v1/admin/models/activate', { model: 'linear@1' })).json());
    expectDocumented(modelChangeSchema, (await admin('POST', '/v1/admin/models/activate', { model: 'linear@2' })).json());
    expectDocumented(shadowSetSchema, (await admin('POST', '/v1/admin/models/shadow', { model: 'linear@1' })).json());

    const state = (await admin('GET', '/v1/admin/models')).json();
    expect(state).toMatchObject({ live: 'linear@2', rollbackTo: 'linear@1', shadow: 'linear@1' });
    expectDocumented(servingStateSchema, state);

    expectDocumented(modelChangeSchema, (await admin('POST', '/v1/admin/models/rollback')).json());
    expectDocumented(shadowRemovedSchema, (await server.app.inject({ method: 'DELETE', url: '/v1/admin/models/shadow', headers: { authorization: `Bearer ${TOKEN}` } })).json());
    expect(await servedVersion()).toBe('1');
  });
});

