import { createLogger } from '@nexttap/observability';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig, startServer, type RunningServer } from '../src/index';

const FORBIDDEN_KEY_MESSAGE = 'the request body may not contain a __proto__ or constructor.prototype key, at any depth; remove the key and send the request again';

let server: RunningServer;

beforeAll(async () => {
  const config = parseServerConfig({ PORT: '0', KAFKA_BROKERS: '', REDIS_URL: '', SEED_DATASET: 'none', LOG_LEVEL: 'silent' });
  server = await startServer('ingest', config, { logger: createLogger({ level: 'silent', service: 'json-body' }) });
});

afterAll(async () => {
  await server.close();
});

function post(url: string, payload: string) {
  return server.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
}

describe('collector JSON bodies', () => {
  it.each([
    ['/v1/events', '{"events":[{"eventId":"e1","type":"tap","ts":1770000000000,"sessionId":"s1","itemId":"i1","__proto__":{"x":1}}]}'],
    ['/v1/events', '{"__proto__":{"x":1},"events":[]}'],
    ['/v1/catalog', '{"items":[{"itemId":"i1","categories":["Drama"],"constructor":{"prototype":{"x":1}}}]}'],
  ])('rejects a prototype key on %s with its own message', async (url, payload) => {
    const response = await post(url, payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'INGEST_ERR_INVALID_JSON', message: FORBIDDEN_KEY_MESSAGE } });
  });

  it.each(['/v1/events', '/v1/catalog'])('rejects invalid UTF-8 on %s', async (url) => {
    const payload = Buffer.concat([Buffer.from('{"events":[{"sessionId":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    const response = await server.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        code: 'INGEST_ERR_INVALID_JSON',
        message: 'the request body is not valid UTF-8: the byte 0xff at offset 25 does not begin a valid UTF-8 sequence; encode the JSON text as UTF-8, or write other characters as \\u escapes',
      },
    });
  });

  it.each(['/v1/events', '/v1/catalog'])('rejects a query parameter on %s', async (url) => {
    const response = await post(`${url}?topic=x`, '{"events":[]}');
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'INGEST_ERR_INVALID_REQUEST',
      field: 'topic',
      message: 'the query parameter topic is not known; remove it, because this route takes no query parameters (unknown: topic)',
    });
  });

  it.each([
    ['{"events":[', 'unexpected end of input at byte offset 11'],
    ['{"events":[]} xyz', 'unexpected character "x" after the end of the JSON value at byte offset 14'],
    ['{"events":[{"ts":NaN}]}', 'unexpected character "N" where a value was expected (JSON has no NaN or Infinity) at byte offset 17'],
    ['{/* c */"events":[]}', 'unexpected character "/" where a field name in double quotes was expected (JSON has no comments) at byte offset 1'],
  ])('says where the JSON body %j breaks', async (payload, detail) => {
    const response = await post('/v1/events', payload);
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'INGEST_ERR_INVALID_JSON', message: `the request body is not valid JSON: ${detail}; send a JSON object` });
  });
});

describe('collector request checks', () => {
  const tap = (eventId: string, fields: Record<string, unknown> = {}) => ({ eventId, type: 'tap', ts: Date.now() - 1_000, sessionId: 's1', itemId: 'i1', ...fields });

  it('rejects a body of null with an example', async () => {
    const response = await post('/v1/events', 'null');
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('INGEST_ERR_INVALID_REQUEST');
    expect(response.json().error.message).toMatch(/^the body must be a JSON object such as \{"events":\[\{"eventId":"e1",.*\}\]\}; received null$/);
  });

  it('rejects a request without a body with an example', async () => {
    const response = await server.app.inject({ method: 'POST', url: '/v1/catalog' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toBe(
      'the request has no body; send a JSON object such as {"items":[{"itemId":"i1","categories":["drama"]}]} with content-type: application/json',
    );
  });

  it('rejects events that repeat an eventId, naming both', async () => {
    const events = [tap('e1'), tap('e2'), tap('e3'), tap('e1', { type: 'like' })];
    const response = await post('/v1/events', JSON.stringify({ events }));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        code: 'INGEST_ERR_INVALID_REQUEST',
        field: 'events.3.eventId',
        message: 'events.3.eventId "e1" repeats events.0.eventId; give every event its own eventId',
      },
    });
  });

  it('accepts one eventId in two sessions', async () => {
    const response = await post('/v1/events', JSON.stringify({ events: [tap('e1'), tap('e1', { sessionId: 's2' })] }));
    expect(response.statusCode).toBe(202);
    expect(response.json().accepted).toBe(2);
  });

  it('compares eventIds in their NFC form', async () => {
    const response = await post('/v1/events', JSON.stringify({ events: [tap('caf\u00e9'), tap('cafe\u0301')] }));
    expect(response.statusCode).toBe(400);
    expect(response.json().error.field).toBe('events.1.eventId');
  });

  it('leaves an invalid event out of the repeat check', async () => {
    const response = await post('/v1/events', JSON.stringify({ events: [tap('e1', { ts: 'yesterday' }), tap('e1')] }));
    expect(response.statusCode).toBe(202);
    expect(response.json().accepted).toBe(1);
  });

  it('rejects catalog records that repeat an itemId, naming both', async () => {
    const items = [{ itemId: 'm1', categories: ['Drama'] }, { itemId: 'm2', categories: [] }, { itemId: 'm1', categories: ['Comedy'] }];
    const response = await post('/v1/catalog', JSON.stringify({ items }));
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'INGEST_ERR_INVALID_REQUEST',
      field: 'items.2.itemId',
      message: 'items.2.itemId "m1" repeats items.0.itemId; send one record per item, the one that should stay',
    });
  });

  it.each([
    [-1, 'ts -1 is outside the accepted range'],
    [1_700_000_000_000_000, 'ts 1700000000000000 is outside the accepted range'],
    ['1960-01-01T00:00:00Z', 'ts "1960-01-01T00:00:00Z" is outside the accepted range'],
  ])('states one range for the event time %j', async (ts, start) => {
    const response = await post('/v1/events', JSON.stringify({ events: [tap('e1', { ts })] }));
    expect(response.statusCode).toBe(400);
    const message: string = response.json().rejected[0].message;
    expect(message.startsWith(`${start}; send `), message).toBe(true);
    expect(message).toContain('from 1973-03-03T09:46:40Z (100000000000) to 2100-01-01T00:00:00Z (4102444800000)');
  });

  it('names microseconds sent as the event time', async () => {
    const response = await post('/v1/events', JSON.stringify({ events: [tap('e1', { ts: 1_700_000_000_000_000 })] }));
    expect(response.json().rejected[0].message).toContain('1700000000000000 looks like epoch microseconds, which is 1700000000000 in milliseconds');
  });
});

describe('a path that is not valid percent-encoding', () => {
  it('gets the documented 400, a request id and a count', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/v1/events%ZZ', headers: { 'x-request-id': 'bad-url-1' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('HTTP_ERR_INVALID_REQUEST');
    expect(response.headers['x-request-id']).toBe('bad-url-1');

    const metrics = await server.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('nexttap_http_responses_total{method="GET",route="unmatched",status="400"} 1');
  });
});

describe('an unknown route with a rejected body', () => {
  it('gets the 404 for a body over the server limit', async () => {
    const payload = `{"x":"${'a'.repeat(5 * 1024 * 1024)}"}`;
    const response = await post('/nope', payload);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'HTTP_ERR_NOT_FOUND', message: 'no route for POST /nope; see the HTTP API in README.md' } });
  });

  it('gets the 404 for a body that is not JSON', async () => {
    const response = await post('/nope?x=1', '{"x":');
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('HTTP_ERR_NOT_FOUND');
  });
});

describe('admin routes with an empty JSON body', () => {
  const token = 'empty-body-admin-token-0123456789';
  let ranker: RunningServer;

  beforeAll(async () => {
    const config = parseServerConfig({ PORT: '0', KAFKA_BROKERS: '', REDIS_URL: '', SEED_DATASET: 'none', LOG_LEVEL: 'silent', ADMIN_TOKEN: token });
    ranker = await startServer('ranker', config, { logger: createLogger({ level: 'silent', service: 'json-body' }) });
  });

  afterAll(async () => {
    await ranker.close();
  });

  function sendEmpty(method: 'POST' | 'DELETE', url: string, contentType = 'application/json') {
    return ranker.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, payload: '' });
  }

  it.each(['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'])(
    'accepts it as %s on the rollback route',
    async (contentType) => {
      const response = await sendEmpty('POST', '/v1/admin/models/rollback', contentType);
      expect(response.statusCode).toBe(409);
      expect(response.json().error.code).toBe('RANKER_ERR_NO_PREVIOUS_MODEL');
    },
  );

  it('rejects a text body on the rollback route', async () => {
    const response = await ranker.app.inject({
      method: 'POST',
      url: '/v1/admin/models/rollback',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      payload: 'now',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().error.code).toBe('RANKER_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('rejects an empty text body where a body is read', async () => {
    const response = await sendEmpty('POST', '/v1/admin/models/activate', 'text/plain');
    expect(response.statusCode).toBe(415);
    expect(response.json().error.code).toBe('RANKER_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('accepts it on the DELETE routes', async () => {
    const shadow = await sendEmpty('DELETE', '/v1/admin/models/shadow');
    expect(shadow.statusCode).toBe(200);
    expect(shadow.json()).toEqual({ shadow: null });

    const experiment = await sendEmpty('DELETE', '/v1/admin/experiments/none-running');
    expect(experiment.statusCode).toBe(404);
    expect(experiment.json().error.code).toBe('RANKER_ERR_EXPERIMENT_NOT_FOUND');
  });

  it.each(['/v1/admin/models/activate', '/v1/admin/models/shadow', '/v1/admin/experiments'])('rejects it on %s, which reads a body', async (url) => {
    const response = await sendEmpty('POST', url);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: { code: 'RANKER_ERR_INVALID_JSON', message: 'the request body is not valid JSON: the body is empty; send a JSON object' },
    });
  });
});
