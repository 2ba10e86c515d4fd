import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { validateCatalogItem, validateInteraction, type CatalogItemInput, type InteractionInput } from '@nexttap/events';
import { planCatalogItem, planInteraction } from '@nexttap/features';
import { loadRankingModel, writeLinearModel, type RankingModel } from '@nexttap/model';
import { createLogger, createMetricsRegistry } from '@nexttap/observability';
import { MemoryFeatureStore } from '@nexttap/store';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServedFeed, servedFeedRequest } from '@nexttap/rank';
import { MAX_REQUEST_CANDIDATES, Ranker, rankerConfigSchema } from '../src/index';
import { encodeCursor } from '../src/cursor';
import { startRanker, writeCatalog, writeEvents, type RankerApp } from './ranker-fixture';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const logger = createLogger({ level: 'silent', service: 'ranker-test' });

const CATALOG: CatalogItemInput[] = [
  { itemId: 'drama-1', categories: ['Drama'] },
  { itemId: 'drama-2', categories: ['Drama'] },
  { itemId: 'comedy-1', categories: ['Comedy'] },
  { itemId: 'comedy-2', categories: ['Comedy'] },
  { itemId: 'war-1', categories: ['War', 'Drama'] },
];

let directory: string;
let store: MemoryFeatureStore;
let ranker: Ranker;
let app: FastifyInstance;
let eventCount = 0;

async function record(events: Array<Partial<InteractionInput>>): Promise<void> {
  const catalog = new Map(CATALOG.map((input) => [input.itemId, input]));
  for (const partial of events) {
    const raw = { eventId: `e-${eventCount++}`, type: 'tap', ts: NOW_MS - 60_000, sessionId: 's-1', itemId: 'drama-1', ...partial };
    const result = validateInteraction(raw, { nowMs: NOW_MS });
    if (!result.ok) throw new Error(result.rejection.message);
    const item = validateCatalogItem(catalog.get(result.value.itemId));
    await store.apply([planInteraction(result.value, item.ok ? item.value : undefined)]);
  }
}

async function feed(body: unknown) {
  return app.inject({ method: 'POST', url: '/v1/feed', payload: body as object });
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nexttap-ranker-'));
  // Score = popularity + 10 × session affinity, so the expected order is known.
  await writeLinearModel(directory, { item_popularity_week: 1, session_category_affinity: 10 });
  store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
  for (const input of CATALOG) {
    const item = validateCatalogItem(input);
    if (item.ok) await store.apply([planCatalogItem(item.value)]);
  }
  await record([
    { sessionId: 'crowd', itemId: 'comedy-1' },
    { sessionId: 'crowd', itemId: 'comedy-1', type: 'like' },
    { sessionId: 'crowd', itemId: 'comedy-2' },
    { sessionId: 'crowd', itemId: 'drama-2' },
  ]);
  const config = rankerConfigSchema.parse({ modelDir: directory });
  ranker = new Ranker({ config, store, logger, metrics: createMetricsRegistry(), clock: () => NOW_MS });
  app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
  await ranker.register(app);
  await ranker.start();
});

afterAll(async () => {
  await app.close();
  await ranker.stop();
  await rm(directory, { recursive: true, force: true });
});

describe('POST /v1/feed', () => {
  it('returns a ranked feed with the model', async () => {
    const response = await feed({ sessionId: 'new-session', limit: 3 });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.feedId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.model).toEqual({ name: 'linear', version: '1', variant: 'default' });
    expect(body.items).toHaveLength(3);
    expect(body.items[0].itemId).toBe('comedy-1');
    expect(body.items.map((item: { position: number }) => item.position)).toEqual([0, 1, 2]);
    const scores = body.items.map((item: { score: number }) => item.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('lifts the categories the session tapped', async () => {
    await record([{ sessionId: 'drama-fan', itemId: 'war-1', type: 'like' }]);
    await ranker.pools.refresh(NOW_MS);
    const body = (await feed({ sessionId: 'drama-fan', limit: 5 })).json();
    const itemIds = body.items.map((item: { itemId: string }) => item.itemId);
    expect(itemIds[0]).toMatch(/^drama-/);
    expect(itemIds).not.toContain('war-1');
  });

  it('re-ranks the given candidates and flags unknown ones', async () => {
    const body = (await feed({ sessionId: 'new-session', candidates: ['drama-1', 'comedy-1', 'nowhere'] })).json();
    expect(body.items.map((item: { itemId: string }) => item.itemId)).toEqual(['comedy-1', 'drama-1', 'nowhere']);
    expect(body.items[0].sources).toEqual(['request']);
    expect(body.items[2].unknown).toBe(true);
    expect(body.items[0].unknown).toBeUndefined();
  });

  it('drops excluded items', async () => {
    const body = (await feed({ sessionId: 'new-session', candidates: ['drama-1', 'comedy-1'], exclude: ['comedy-1'] })).json();
    expect(body.items.map((item: { itemId: string }) => item.itemId)).toEqual(['drama-1']);
  });

  it.each([
    [{}, 'sessionId'],
    [{ sessionId: 's', limit: 0 }, 'limit'],
    [{ sessionId: 's', limit: 101 }, 'limit'],
    [{ sessionId: 's', limit: 'ten' }, 'limit'],
    [{ sessionId: '' }, 'sessionId'],
    [{ sessionId: 's', candidates: [] }, 'candidates'],
    [{ sessionId: 's', candidates: Array.from({ length: MAX_REQUEST_CANDIDATES + 1 }, (_, index) => `i${index}`) }, 'candidates'],
    [{ sessionId: 's', candidates: [42] }, 'candidates.0'],
  ])('rejects %j naming %s', async (body, field) => {
    const response = await feed(body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RANKER_ERR_INVALID_REQUEST');
    expect(response.json().error.field).toBe(field);
    expect(response.json().error.message.startsWith(`${field} `), response.json().error.message).toBe(true);
  });

  it.each([
    ['a session id', Buffer.concat([Buffer.from('{"sessionId":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","limit":1}')]), 14],
    ['a candidate', Buffer.concat([Buffer.from('{"sessionId":"s","candidates":["a'), Buffer.from([0xc3]), Buffer.from('"]}')]), 33],
    ['an encoded surrogate', Buffer.concat([Buffer.from('{"sessionId":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), 14],
  ])('rejects invalid UTF-8 in %s', async (_case, payload, offset) => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', payload, headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('RANKER_ERR_INVALID_JSON');
    expect(response.json().error.message).toMatch(new RegExp(`^the request body is not valid UTF-8: the byte 0x[0-9a-f]{2} at offset ${offset} `));
  });

  it.each([
    ['a bidirectional override', 's\u202e1', '"s\\u202e1"', 'contains an invisible format character (zero-width or bidirectional); remove it'],
    ['a control character', 's\u00071', '"s\\u00071"', 'contains a control character; remove it'],
  ])('escapes a session id with %s', async (_case, sessionId, shown, problem) => {
    const response = await feed({ sessionId, limit: 1 });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'RANKER_ERR_INVALID_REQUEST', field: 'sessionId', message: `sessionId ${problem} (received ${shown})` });
  });

  it.each([
    ['sessionId', { sessionId: ' 42' }, 'sessionId starts with whitespace (" "); send the id without the surrounding whitespace (received " 42")'],
    ['userId', { sessionId: 's', userId: 'u1\u00a0' }, 'userId ends with whitespace ("\\u00a0"); send the id without the surrounding whitespace (received "u1\\u00a0")'],
    ['candidates.1', { sessionId: 's', candidates: ['drama-1', '7 '] }, 'candidates.1 ends with whitespace (" "); send the id without the surrounding whitespace (received "7 ")'],
    ['exclude.0', { sessionId: 's', exclude: ['\tdrama-1'] }, 'exclude.0 starts with whitespace ("\\t"); send the id without the surrounding whitespace (received "\\tdrama-1")'],
  ])('rejects %s with surrounding whitespace', async (field, body, message) => {
    const compact = await feed(body);
    // Indented JSON is left by the body scanner to the JSON parser, so both parse paths are checked.
    const indented = await app.inject({ method: 'POST', url: '/v1/feed', payload: JSON.stringify(body, null, 2), headers: { 'content-type': 'application/json' } });

    for (const response of [compact, indented]) {
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: { code: 'RANKER_ERR_INVALID_REQUEST', field, message } });
    }
  });

  it('accepts ids with inner spaces', async () => {
    const response = await feed({ sessionId: 'new session', candidates: ['drama 1', 'comedy-1'], limit: 2 });
    expect(response.statusCode).toBe(200);
    expect(response.json().items.map((item: { itemId: string }) => item.itemId).sort()).toEqual(['comedy-1', 'drama 1']);
  });

  it.each([
    ['sessionId=%2042', 'sessionId', 'sessionId starts with whitespace (" "); send the id without the surrounding whitespace (received " 42")'],
    ['sessionId=42+', 'sessionId', 'sessionId ends with whitespace (" "); send the id without the surrounding whitespace (received "42 ")'],
    ['sessionId=s&userId=u1%0A', 'userId', 'userId ends with whitespace ("\\n"); send the id without the surrounding whitespace (received "u1\\n")'],
  ])('rejects the live feed query %s', async (query, field, message) => {
    // limit=0 keeps a query that passes from opening a stream that inject would wait on.
    const response = await app.inject({ method: 'GET', url: `/v1/feed/live?${query}&limit=0` });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'RANKER_ERR_INVALID_REQUEST', field, message } });
  });

  it('accepts a session id of 65 emoji', async () => {
    // 65 code points, 130 UTF-16 code units: within the limit of 128 characters.
    const response = await feed({ sessionId: '\u{1F600}'.repeat(65), limit: 1 });
    expect(response.statusCode).toBe(200);
  });

  it('rejects a query parameter as the live feed does', async () => {
    const live = await app.inject({ method: 'GET', url: '/v1/feed/live?sessionId=s&foo=1' });
    const response = await app.inject({ method: 'POST', url: '/v1/feed?foo=1', payload: { sessionId: 's', limit: 1 } });
    expect(live.statusCode).toBe(400);
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: live.json().error.code,
      field: 'foo',
      message: 'the query parameter foo is not known; remove it, because this route takes no query parameters (unknown: foo)',
    });
  });

  it('accepts an empty query string', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed?', payload: { sessionId: 's', limit: 1 } });
    expect(response.statusCode).toBe(200);
  });

  it.each([
    ['{"sessionId":', 'unexpected end of input at byte offset 13'],
    ['{"sessionId":"s"} xyz', 'unexpected character "x" after the end of the JSON value at byte offset 18'],
    ['{"sessionId":"s","limit":NaN}', 'unexpected character "N" where a value was expected (JSON has no NaN or Infinity) at byte offset 25'],
    ['{"sessionId":"s",/* c */"limit":1}', 'unexpected character "/" where a field name in double quotes was expected (JSON has no comments) at byte offset 17'],
    ['{"sessionId":"é",}', 'unexpected character "}" where a field name in double quotes was expected at byte offset 18'],
    ['', 'the body is empty'],
  ])('says where the JSON body %j breaks', async (payload, detail) => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', payload, headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'RANKER_ERR_INVALID_JSON', message: `the request body is not valid JSON: ${detail}; send a JSON object` });
  });

  it.each(['0x2', '+3', '1e1', ' 5', '', '05', '2.0'])('rejects the live feed query limit %j', async (limit) => {
    const response = await app.inject({ method: 'GET', url: `/v1/feed/live?sessionId=s&limit=${encodeURIComponent(limit)}` });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'RANKER_ERR_INVALID_REQUEST',
      field: 'limit',
      message: `limit must be a whole number in plain digits, from 1 to 100, such as 20 (received ${JSON.stringify(limit)})`,
    });
  });

  it('keeps the range check of the live feed query limit', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/feed/live?sessionId=s&limit=0' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'RANKER_ERR_INVALID_REQUEST', field: 'limit', message: 'limit must be a whole number from 1 to 100, such as 20 (received "0")' });
  });

  it.each([
    ['limit', '"x"', 'limit must be a whole number from 1 to 100, such as 20 (received "x")'],
    ['limit', '101', 'limit must be a whole number from 1 to 100, such as 20 (received 101)'],
    ['limit', '2.5', 'limit must be a whole number from 1 to 100, such as 20 (received 2.5)'],
    ['explain', '"yes"', 'explain must be true or false, such as "explain": true (received "yes")'],
    ['includeCatalog', '1', 'includeCatalog must be true or false, such as "includeCatalog": true (received 1)'],
    ['candidates', '"i1"', 'candidates must be an array of 1 to 1000 item ids, such as ["i1","i2"] (received "i1")'],
    ['exclude', '"i1"', 'exclude must be an array of at most 1000 item ids, such as ["i7"] (received "i1")'],
    ['cursor', '5', 'cursor must be a string of 1 to 256 characters, the nextCursor of the previous page sent unchanged (received 5)'],
  ])('names range and example for %s %s', async (field, value, message) => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/feed',
      payload: `{"sessionId":"s","${field}":${value}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'RANKER_ERR_INVALID_REQUEST', field, message });
  });

  it.each([
    ['compact', '{"sessionId":"s1","__proto__":{"x":1}}'],
    ['spaced', '{ "sessionId": "s1", "__proto__": { "x": 1 } }'],
    ['escaped', '{"sessionId":"s1","\\u005f_proto__":{"x":1}}'],
    ['nested', '{"sessionId":"s1","candidates":["a"],"exclude":[],"x":{"__proto__":{}}}'],
    ['constructor', '{"sessionId":"s1","constructor":{"prototype":{"x":1}}}'],
  ])('rejects a %s prototype key with its own message', async (_form, payload) => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', payload, headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'RANKER_ERR_INVALID_JSON',
      message: 'the request body may not contain a __proto__ or constructor.prototype key, at any depth; remove the key and send the request again',
    });
  });

  it('names an unknown field', async () => {
    const response = await feed({ sessionId: 's', colour: 'red' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.field).toBe('colour');
  });

  it.each([
    ['null', 'null', 'null'],
    ['an array', '[]', '[]'],
    ['a string', '"s1"', '"s1"'],
  ])('rejects a body that is %s with an example', async (_case, payload, shown) => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', payload, headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'RANKER_ERR_INVALID_REQUEST',
      message: `the body must be a JSON object such as {"sessionId":"s1","limit":20}; received ${shown}`,
    });
  });

  it('rejects a request without a body', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'RANKER_ERR_INVALID_REQUEST',
      message: 'the request has no body; send a JSON object such as {"sessionId":"s1","limit":20} with content-type: application/json',
    });
  });

  it('rejects candidates with a cursor on both body parsers', async () => {
    const first = (await feed({ sessionId: 'cursor-candidates', limit: 1 })).json();
    const body = { sessionId: 'cursor-candidates', cursor: first.nextCursor, candidates: ['drama-1'] };
    const compact = await feed(body);
    // Spaces keep the body from the one-pass scanner, so it goes through fastify's parser and zod.
    const spaced = await app.inject({ method: 'POST', url: '/v1/feed', payload: JSON.stringify(body, null, 1), headers: { 'content-type': 'application/json' } });

    for (const response of [compact, spaced]) {
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('RANKER_ERR_INVALID_REQUEST');
      expect(response.json().error.field).toBe('candidates');
      expect(response.json().error.message).toMatch(/^candidates must be left out when cursor is sent, because the cursor pages an earlier ranking/);
      expect(response.json().error.message).toContain('optionally limit, exclude, explain and includeCatalog');
    }
    expect(spaced.json()).toEqual(compact.json());
  });

  it('marks a cut cursor in its message', async () => {
    const cursor = 'A'.repeat(100);
    const response = await feed({ sessionId: 's', cursor });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toBe(`cursor "${'A'.repeat(40)}..." is not a cursor this ranker issued; send the nextCursor of the previous page unchanged`);
  });

  it('names a query parameter given twice', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/feed/live?sessionId=a&sessionId=b' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'RANKER_ERR_INVALID_REQUEST',
      field: 'sessionId',
      message: 'the query parameter sessionId was given more than once (received ["a","b"]); send it once',
    });
  });

  it.each([
    ['sessionId=%FF%FE', 'sessionId', 'the query parameter sessionId is not valid percent-encoded UTF-8 (received "%FF%FE"); percent-encode the UTF-8 bytes of the text, such as %C3%A9 for é'],
    ['sessionId=%ED%A0%80', 'sessionId', 'the query parameter sessionId is not valid percent-encoded UTF-8 (received "%ED%A0%80"); percent-encode the UTF-8 bytes of the text, such as %C3%A9 for é'],
    ['sessionId=50%', 'sessionId', 'the query parameter sessionId is not valid percent-encoded UTF-8 (received "50%"); percent-encode the UTF-8 bytes of the text, such as %C3%A9 for é'],
    ['sessionId=s&userId=%zz', 'userId', 'the query parameter userId is not valid percent-encoded UTF-8 (received "%zz"); percent-encode the UTF-8 bytes of the text, such as %C3%A9 for é'],
  ])('rejects the invalid encoding in %s', async (query, field, message) => {
    // limit=0 keeps a query whose encoding passes from opening a stream that inject would wait on.
    const response = await app.inject({ method: 'GET', url: `/v1/feed/live?${query}&limit=0` });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'RANKER_ERR_INVALID_REQUEST', field, message });
  });

  it.each([
    ['sessionId[]=a', 'sessionId[]', 'the query parameter sessionId[] is not known; send sessionId=value once, without []'],
    ['foo=bar', 'foo', 'the query parameter foo is not known; remove it (unknown: foo; known: sessionId, userId, limit, includeCatalog)'],
    ['sessionId=s&foo=bar', 'foo', 'the query parameter foo is not known; remove it (unknown: foo; known: sessionId, userId, limit, includeCatalog)'],
    ['foo=1&foo=2&sessionId=%FF&bar=3', 'foo', 'the query parameter foo is not known; remove it (unknown: foo, bar; known: sessionId, userId, limit, includeCatalog)'],
    ['%FF=1&sessionId=s', '%FF', 'the query parameter %FF is not known; remove it (unknown: %FF; known: sessionId, userId, limit, includeCatalog)'],
    ['%00=1&sessionId=s', '\u0000', 'the query parameter "\\u0000" is not known; remove it (unknown: "\\u0000"; known: sessionId, userId, limit, includeCatalog)'],
  ])('names the unknown parameter in %s first', async (query, field, message) => {
    const response = await app.inject({ method: 'GET', url: `/v1/feed/live?${query}` });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'RANKER_ERR_INVALID_REQUEST', field, message });
  });
});

describe('feed rules', () => {
  const RULES_NOW_MS = NOW_MS;
  const HOUR_MS = 3_600_000;
  /** Turns off every ordering rule, so a test switches on only the one it checks. */
  const RULES_OFF = { liveBoostPositions: '0', explorationPosition: '-1', diversityWindow: '0' };
  const RULES_CATALOG: CatalogItemInput[] = [
    ...[1, 2, 3, 4, 5, 6].map((n) => ({ itemId: `action-${n}`, categories: ['Action'], creatorId: n <= 3 ? 'studio-a' : 'studio-b' })),
    ...[1, 2, 3, 4].map((n) => ({ itemId: `comedy-${n}`, categories: ['Comedy'], creatorId: 'studio-c' })),
    { itemId: 'live-1', categories: ['News'], live: true, publishedAt: RULES_NOW_MS - HOUR_MS },
    { itemId: 'fresh-1', categories: ['Drama'], publishedAt: RULES_NOW_MS - HOUR_MS },
  ];
  /** Taps per item: the Action items lead, then Comedy, then the live item; the fresh one has none. */
  const TAPS: Record<string, number> = {
    'action-1': 12, 'action-2': 11, 'action-3': 10, 'action-4': 9, 'action-5': 8, 'action-6': 7,
    'comedy-1': 6, 'comedy-2': 5, 'comedy-3': 4, 'comedy-4': 3, 'live-1': 1,
  };
  let rulesStore: MemoryFeatureStore;
  let rulesModelDir: string;
  const started: RankerApp[] = [];

  async function rankerWith(environment: Record<string, string>): Promise<RankerApp> {
    const instance = await startRanker(rulesStore, rulesModelDir, () => RULES_NOW_MS, environment);
    started.push(instance);
    return instance;
  }

  async function post(instance: RankerApp, body: object) {
    return instance.app.inject({ method: 'POST', url: '/v1/feed', payload: body });
  }

  const idsOf = (body: { items: Array<{ itemId: string }> }) => body.items.map((item) => item.itemId);

  beforeAll(async () => {
    rulesModelDir = join(directory, 'rules-model');
    await writeLinearModel(rulesModelDir, { item_popularity_week: 1, session_category_affinity: 10 });
    rulesStore = new MemoryFeatureStore({ now: () => RULES_NOW_MS, sweepIntervalMs: 0 });
    await writeCatalog(rulesStore, RULES_CATALOG);
    const events: Array<Partial<InteractionInput>> = [];
    for (const [itemId, taps] of Object.entries(TAPS)) {
      for (let index = 0; index < taps; index++) {
        events.push({ sessionId: `crowd-${index}`, itemId, type: 'tap' });
      }
      // Enough impressions that only the fresh item counts as little-shown.
      for (let index = 0; index < 60; index++) {
        events.push({ sessionId: `viewer-${index}`, itemId, type: 'impression' });
      }
    }
    await writeEvents(rulesStore, RULES_NOW_MS, events);
  });

  afterAll(async () => {
    await Promise.all(started.map((instance) => instance.close()));
  });

  it('drops items the session tapped, unless turned off', async () => {
    await writeEvents(rulesStore, RULES_NOW_MS, [{ sessionId: 'tapper', itemId: 'action-1', type: 'tap' }]);
    const on = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0' });
    const off = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0', dropInteracted: 'false' });
    expect(idsOf((await post(on, { sessionId: 'tapper', limit: 12 })).json())).not.toContain('action-1');
    expect(idsOf((await post(off, { sessionId: 'tapper', limit: 12 })).json())).toContain('action-1');
  });

  it('drops items the user engaged with in an earlier session, requested or generated', async () => {
    await writeEvents(rulesStore, RULES_NOW_MS, [{ sessionId: 'earlier-visit', userId: 'returning', itemId: 'comedy-2', type: 'like' }]);
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0' });

    const requested = idsOf((await post(instance, { sessionId: 'later-visit', userId: 'returning', limit: 3, candidates: ['comedy-1', 'comedy-2', 'comedy-3'] })).json());
    const generated = idsOf((await post(instance, { sessionId: 'later-visit', userId: 'returning', limit: 12 })).json());
    const anonymous = idsOf((await post(instance, { sessionId: 'later-visit', limit: 3, candidates: ['comedy-1', 'comedy-2', 'comedy-3'] })).json());

    expect(requested.sort()).toEqual(['comedy-1', 'comedy-3']);
    expect(generated).toContain('comedy-1');
    expect(generated).not.toContain('comedy-2');
    expect(anonymous).toContain('comedy-2');
  });

  it('drops items served in the latest feeds, but not requested ones', async () => {
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '2' });
    const first = idsOf((await post(instance, { sessionId: 'refresher', limit: 4 })).json());
    const second = idsOf((await post(instance, { sessionId: 'refresher', limit: 4 })).json());
    expect(first).toHaveLength(4);
    expect(second.filter((itemId) => first.includes(itemId))).toEqual([]);
    const requested = idsOf((await post(instance, { sessionId: 'refresher', candidates: first })).json());
    expect(requested.sort()).toEqual([...first].sort());
  });

  it('keeps served items when the rule is off', async () => {
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0' });
    const first = idsOf((await post(instance, { sessionId: 'repeater', limit: 4 })).json());
    const second = idsOf((await post(instance, { sessionId: 'repeater', limit: 4 })).json());
    expect(second).toEqual(first);
  });

  it('limits one category per diversity window', async () => {
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0', diversityWindow: '3', diversityMaxPerCategory: '1' });
    // Four categories fit the first 8 positions; past them only Action and Comedy are left and the rule gives way.
    const body = (await post(instance, { sessionId: 'diverse', limit: 8, explain: true })).json();
    const categories = body.items.map((item: { itemId: string }) => item.itemId.split('-')[0]);
    for (let start = 0; start + 3 <= categories.length; start++) {
      const window = categories.slice(start, start + 3);
      expect(new Set(window).size, `positions ${start}-${start + 2}: ${window.join(', ')}`).toBe(3);
    }
    const moved = body.items.filter((item: { explanation: { rules: Array<{ rule: string }> } }) =>
      item.explanation.rules.some((effect) => effect.rule === 'diversity'),
    );
    expect(moved.length).toBeGreaterThan(0);
  });

  it('limits one creator per diversity window', async () => {
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0', diversityWindow: '2', diversityMaxPerCategory: '2', diversityMaxPerCreator: '1' });
    const body = (await post(instance, { sessionId: 'creators', candidates: ['action-1', 'action-2', 'action-4'] })).json();
    // action-1 and action-2 share studio-a, so action-4 (studio-b) goes between them.
    expect(idsOf(body)).toEqual(['action-1', 'action-4', 'action-2']);
  });

  it('gives the exploration slot to a fresh or little-shown item', async () => {
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0', explorationPosition: '1', explorationFreshMs: '0' });
    const body = (await post(instance, { sessionId: 'explorer', limit: 5, explain: true })).json();
    expect(body.items[1].itemId).toBe('fresh-1');
    expect(body.items[1].explanation.rules).toEqual([{ rule: 'exploration', from: expect.any(Number), to: 1 }]);
    const off = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0' });
    expect(idsOf((await post(off, { sessionId: 'explorer', limit: 5 })).json())).not.toContain('fresh-1');
  });

  it('counts a recently published item as fresh for exploration', async () => {
    // With no little-shown items, only the fresh ones (published an hour ago) may explore.
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0', explorationPosition: '0', explorationMaxImpressions: '0' });
    const body = (await post(instance, { sessionId: 'fresh-seeker', limit: 3 })).json();
    expect(['fresh-1', 'live-1']).toContain(body.items[0].itemId);
  });

  it('moves live items up', async () => {
    const off = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0' });
    const boosted = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0', liveBoostPositions: '5' });
    const before = idsOf((await post(off, { sessionId: 'live-fan', limit: 20 })).json()).indexOf('live-1');
    const body = (await post(boosted, { sessionId: 'live-fan', limit: 20, explain: true, includeCatalog: true })).json();
    const after = idsOf(body).indexOf('live-1');
    expect(after).toBe(before - 5);
    expect(body.items[after].catalog).toEqual({ categories: ['News'], live: true });
    expect(body.items[after].explanation.rules).toEqual([{ rule: 'live-boost', from: before, to: after }]);
    expect(body.items.find((item: { itemId: string }) => item.itemId === 'live-1').sources).toContain('live');
  });

  it('pages through one ranking without repeats', async () => {
    const instance = await rankerWith({ dropServedFeeds: '0' });
    const seen: string[] = [];
    const positions: number[] = [];
    let cursor: string | undefined;
    let feedId: string | undefined;
    for (let page = 0; page < 10; page++) {
      const response = await post(instance, { sessionId: 'pager', limit: 3, ...(cursor === undefined ? {} : { cursor }) });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      feedId ??= body.feedId;
      expect(body.feedId).toBe(feedId);
      seen.push(...idsOf(body));
      positions.push(...body.items.map((item: { position: number }) => item.position));
      cursor = body.nextCursor;
      if (cursor === undefined) break;
    }
    expect(cursor).toBeUndefined();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.sort()).toEqual(RULES_CATALOG.map((item) => item.itemId).sort());
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('skips items tapped since the first page', async () => {
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0' });
    const first = (await post(instance, { sessionId: 'page-tapper', limit: 2 })).json();
    const second = (await post(instance, { sessionId: 'page-tapper', limit: 2, cursor: first.nextCursor })).json();
    await writeEvents(rulesStore, RULES_NOW_MS, [{ sessionId: 'page-tapper', itemId: 'action-6', type: 'like' }]);
    const third = (await post(instance, { sessionId: 'page-tapper', limit: 20, cursor: second.nextCursor })).json();
    expect(idsOf(third)).not.toContain('action-6');
    expect([...idsOf(first), ...idsOf(second)]).not.toContain('action-6');
  });

  it('rejects a cursor it did not issue', async () => {
    const instance = await rankerWith({});
    const response = await post(instance, { sessionId: 'pager', cursor: 'bm90LWEtY3Vyc29y' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'RANKER_ERR_INVALID_CURSOR', field: 'cursor' });
  });

  it('rejects a cursor past the end of its ranking', async () => {
    const instance = await rankerWith({ dropServedFeeds: '0' });
    const first = (await post(instance, { sessionId: 'past-the-end', limit: 2 })).json();
    const cursor = encodeCursor({ feedId: first.feedId, offset: 99_999 });
    const response = await post(instance, { sessionId: 'past-the-end', limit: 2, cursor });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'RANKER_ERR_INVALID_CURSOR', field: 'cursor' });
    expect(response.json().error.message).toMatch(/^the cursor's offset 99999 is past the end of feed /);
  });

  it('pages with the userId of the first page', async () => {
    const instance = await rankerWith({ dropServedFeeds: '0' });
    const first = (await post(instance, { sessionId: 'signed-in', userId: 'u-1', limit: 2 })).json();
    const response = await post(instance, { sessionId: 'signed-in', userId: 'u-1', limit: 2, cursor: first.nextCursor });
    expect(response.statusCode).toBe(200);
    expect(response.json().feedId).toBe(first.feedId);
  });

  it.each([
    [
      'another userId',
      { userId: 'u-2' },
      'u-1',
      'userId "u-2" is not the userId of the first page of this feed; send the first page\'s userId with the cursor, or leave cursor out to rank a first page for this user',
    ],
    ['no userId', {}, 'u-1', 'userId is missing, but the first page of this feed was ranked for a userId; send the same userId with the cursor'],
    [
      'a userId the first page lacked',
      { userId: 'u-2' },
      undefined,
      'userId "u-2" was not sent with the first page of this feed; leave userId out with this cursor, or leave cursor out to rank a first page for this user',
    ],
  ])('rejects a next page with %s', async (_case, next, firstUserId, message) => {
    const instance = await rankerWith({ dropServedFeeds: '0' });
    const sessionId = `user-check-${firstUserId ?? 'anonymous'}-${Object.keys(next).length}`;
    const first = (await post(instance, { sessionId, ...(firstUserId === undefined ? {} : { userId: firstUserId }), limit: 2 })).json();
    const response = await post(instance, { sessionId, ...next, limit: 2, cursor: first.nextCursor });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'RANKER_ERR_INVALID_REQUEST', field: 'userId', message });
  });

  it('rejects a cursor of another session as expired', async () => {
    const instance = await rankerWith({});
    const first = (await post(instance, { sessionId: 'owner', limit: 2 })).json();
    const response = await post(instance, { sessionId: 'stranger', limit: 2, cursor: first.nextCursor });
    expect(response.statusCode).toBe(410);
    expect(response.json().error.code).toBe('RANKER_ERR_CURSOR_EXPIRED');
  });

  it('stores the served feed for attribution', async () => {
    const instance = await rankerWith({ ...RULES_OFF, dropServedFeeds: '0' });
    const body = (await post(instance, { sessionId: 'attributed', limit: 3 })).json();
    // The ranker queues the record and writes it at the end of the event-loop turn.
    const readRecord = async () => parseServedFeed(body.feedId, (await rulesStore.read([servedFeedRequest('attributed', body.feedId)]))[0]);
    await expect.poll(async () => (await readRecord())?.model).toBe('linear@1');
    const record = await readRecord();
    expect(record?.variant).toBe('default');
    expect(record?.userId).toBeNull();
    expect(record?.pages.get(0)).toEqual(idsOf(body));
  });

  it('ranks 1,000 requested candidates', async () => {
    const instance = await rankerWith({});
    const candidates = Array.from({ length: MAX_REQUEST_CANDIDATES }, (_, index) => `bulk-${index}`);
    const response = await post(instance, { sessionId: 'bulk', candidates, limit: 100 });
    expect(response.statusCode).toBe(200);
    expect(response.json().candidateCount).toBe(MAX_REQUEST_CANDIDATES);
    expect(response.json().items.every((item: { unknown?: boolean }) => item.unknown === true)).toBe(true);
  });

  it('explains scores by feature contributions', async () => {
    const instance = await rankerWith(RULES_OFF);
    const body = (await post(instance, { sessionId: 'curious', candidates: ['action-1', 'nowhere'], explain: true })).json();
    const [top, unknown] = body.items;
    expect(top.explanation.sources).toEqual(['request']);
    const popularity = top.explanation.features.find((entry: { feature: string }) => entry.feature === 'item_popularity_week');
    // A linear model with weight 1 on a feature whose default is 0: the contribution is the value.
    expect(popularity.contribution).toBeCloseTo(popularity.value, 4);
    expect(popularity.value).toBeGreaterThan(0);
    expect(unknown.unknown).toBe(true);
    expect(unknown.explanation.features).toEqual([]);
  });

  it('omits explanations unless asked', async () => {
    const instance = await rankerWith({});
    const body = (await post(instance, { sessionId: 'plain', limit: 2 })).json();
    expect(body.items[0].explanation).toBeUndefined();
  });
});

describe('model fallback', () => {
  let instance: RankerApp;
  let healthy: RankingModel;

  beforeAll(async () => {
    instance = await startRanker(store, directory, () => NOW_MS);
    // A copy of its own, because each swap releases the model it replaces.
    healthy = await loadRankingModel(directory);
  });

  afterAll(async () => {
    await instance.close();
  });

  it('replaces NaN and Infinity scores with the heuristic', async () => {
    const broken: RankingModel = {
      ...healthy,
      release: async () => undefined,
      async score(matrix) {
        const scores = await healthy.score(matrix);
        return scores.map((score, index) => (index % 3 === 0 ? Number.NaN : index % 3 === 1 ? Number.POSITIVE_INFINITY : score));
      },
    };
    await instance.ranker.useModel(broken);
    const response = await instance.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 'nan', candidates: CATALOG.map((item) => item.itemId), explain: true } });
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toMatch(/NaN|Infinity|null/);
    const body = response.json();
    expect(body.items).toHaveLength(CATALOG.length);
    expect(body.items.every((item: { score: number }) => Number.isFinite(item.score))).toBe(true);
    expect(body.degraded.reason).toBe('model-non-finite');
    expect(await instance.metrics.getSingleMetricAsString('nexttap_feed_degraded_total')).toContain('reason="model-non-finite"} 1');
  });

  it('ranks by the heuristic when the model run fails', async () => {
    const failing: RankingModel = { ...healthy, release: async () => undefined, score: async () => Promise.reject(new Error('session lost')) };
    await instance.ranker.useModel(failing);
    const body = (await instance.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 'failing', limit: 3 } })).json();
    expect(body.degraded.reason).toBe('model-failed');
    expect(body.items).toHaveLength(3);
    expect(body.items.every((item: { score: number }) => item.score >= 0 && item.score < 1)).toBe(true);
  });

  it('answers a bug with RANKER_ERR_INTERNAL', async () => {
    const invalid = { ...healthy, features: null, release: async () => undefined } as unknown as RankingModel;
    await instance.ranker.useModel(invalid);
    const response = await instance.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 'bug', candidates: ['drama-1'] } });
    expect(response.statusCode).toBe(500);
    expect(response.json().error.code).toBe('RANKER_ERR_INTERNAL');
    await instance.ranker.useModel(healthy);
  });
});

describe('ranker API surface', () => {
  it('answers 503 RANKER_ERR_NOT_READY before a model is loaded', async () => {
    const config = rankerConfigSchema.parse({ modelDir: directory });
    const idle = new Ranker({ config, store, logger, metrics: createMetricsRegistry(), clock: () => NOW_MS });
    const idleApp = Fastify({ loggerInstance: logger as FastifyBaseLogger });
    await idle.register(idleApp);
    const response = await idleApp.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 's' } });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json().error.code).toBe('RANKER_ERR_NOT_READY');
    await idleApp.close();
  });

  it('answers 413 and 415 with its own codes', async () => {
    const large = await app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 's', padding: 'x'.repeat(1_100_000) } });
    expect(large.statusCode).toBe(413);
    expect(large.json().error.code).toBe('RANKER_ERR_BODY_TOO_LARGE');
    const xml = await app.inject({ method: 'POST', url: '/v1/feed', payload: '<feed/>', headers: { 'content-type': 'application/xml' } });
    expect(xml.statusCode).toBe(415);
    expect(xml.json().error.code).toBe('RANKER_ERR_UNSUPPORTED_MEDIA_TYPE');
    expect(xml.json().error.message).toBe('the request body must be JSON with content-type: application/json; received content-type "application/xml"');
  });

  it('answers 415 to a compressed body', async () => {
    const payload = gzipSync(JSON.stringify({ sessionId: 's' }));
    const response = await app.inject({ method: 'POST', url: '/v1/feed', payload, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    expect(response.statusCode).toBe(415);
    expect(response.json().error).toEqual({
      code: 'RANKER_ERR_UNSUPPORTED_MEDIA_TYPE',
      message: 'the request body has content-encoding "gzip", which this server does not decode; send the body uncompressed and without a content-encoding header',
    });
  });

  it('reads a compact body sent with content-encoding identity', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', payload: '{"sessionId":"s"}', headers: { 'content-type': 'application/json', 'content-encoding': 'identity' } });
    expect(response.statusCode).toBe(200);
  });

  it('echoes the request id', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 's' }, headers: { 'x-request-id': 'abc-123' } });
    expect(response.headers['x-request-id']).toBeDefined();
  });

  it('publishes the OpenAPI document at /docs', async () => {
    const response = await app.inject({ method: 'GET', url: '/docs' });
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.openapi).toBe('3.0.3');
    const request = document.paths['/v1/feed'].post.requestBody.content['application/json'].schema;
    expect(request.required).toEqual(['sessionId']);
    expect(request.properties.candidates.maxItems).toBe(MAX_REQUEST_CANDIDATES);
    expect(Object.keys(document.paths['/v1/feed'].post.responses).sort()).toEqual(['200', '400', '410', '413', '415', '500', '503']);
    expect(document.paths['/v1/feed/live'].get.parameters.map((parameter: { name: string }) => parameter.name)).toContain('sessionId');
    expect((await app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()).toEqual(document);
  });

  it('times each stage of a feed', async () => {
    const instance = await startRanker(store, directory, () => NOW_MS);
    await instance.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: 'timed', explain: true } });
    const text = await instance.metrics.getSingleMetricAsString('nexttap_feed_stage_duration_seconds');
    for (const stage of ['session', 'candidates', 'features', 'inference', 'rules', 'explain']) {
      expect(text).toContain(`nexttap_feed_stage_duration_seconds_count{stage="${stage}"} 1`);
    }
    await instance.close();
  });
});
