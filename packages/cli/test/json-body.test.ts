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

  it('keeps the invalid-JSON message for broken JSON', async () => {
    const response = await post('/v1/events', '{"events":[');
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('INGEST_ERR_INVALID_JSON');
    expect(response.json().error.message).toMatch(/^the request body is not valid JSON \(/);
  });
});
