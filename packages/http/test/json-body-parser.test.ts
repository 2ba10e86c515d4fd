import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type ProtoAction } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { installErrorHandler, installJsonBodyParser, registerFallbackHandlers } from '../src/index';

const CODES = { invalidJson: 'T_INVALID_JSON', bodyTooLarge: 'T_TOO_LARGE', unsupportedMediaType: 'T_MEDIA_TYPE', internal: 'T_INTERNAL' };
const FORBIDDEN_KEY_MESSAGE = 'the request body may not contain a __proto__ or constructor.prototype key, at any depth; remove the key and send the request again';

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Starts an app whose POST /echo returns its body, with the shared JSON parser and `CODES`, and posts `payload` to it. */
async function post(payload: string, onProtoPoisoning: ProtoAction = 'error') {
  const instance = Fastify({ onProtoPoisoning });
  app = instance;
  installJsonBodyParser(instance);
  installErrorHandler(instance, CODES);
  instance.post('/echo', async (request) => ({ body: request.body }));
  return instance.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });
}

describe('installJsonBodyParser', () => {
  it.each([
    ['a top-level __proto__', '{"sessionId":"s1","__proto__":{"x":1}}'],
    ['a nested __proto__', '{"events":[{"context":{"__proto__":{"admin":true}}}]}'],
    ['an escaped __proto__', '{"\\u005f\\u005fproto__":{}}'],
    ['a constructor.prototype', '{"constructor":{"prototype":{"x":1}}}'],
    ['a key after a byte order mark', '\ufeff{"__proto__":{}}'],
  ])('rejects %s with its own message', async (_case, payload) => {
    const response = await post(payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'T_INVALID_JSON', message: FORBIDDEN_KEY_MESSAGE } });
  });

  it.each([
    ['broken JSON', '{"__proto__":'],
    ['a trailing comma', '{"__proto__":{},}'],
  ])('keeps the invalid-JSON message for %s', async (_case, payload) => {
    const response = await post(payload);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('T_INVALID_JSON');
    expect(response.json().error.message).toMatch(/^the request body is not valid JSON: unexpected .* at byte offset \d+; send a JSON object$/);
  });

  it('calls an empty body empty', async () => {
    const response = await post('');
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({ code: 'T_INVALID_JSON', message: 'the request body is not valid JSON: the body is empty; send a JSON object' });
  });

  it('gives byte offsets after a byte order mark', async () => {
    const response = await post('\ufeff{"a":"\u00e9\u{1F600}" x}');
    expect(response.statusCode).toBe(400);
    // 3 bytes of byte order mark, 5 of {"a":, 1 quote, 2 of é, 4 of the emoji, 1 quote, 1 space.
    expect(response.json().error.message).toBe(
      'the request body is not valid JSON: unexpected character "x" where "," or "}" was expected at byte offset 17; send a JSON object',
    );
  });

  it('accepts a plain body and a constructor key without a prototype', async () => {
    expect((await post('{"a":[1,2],"b":"__proto__"}')).json()).toEqual({ body: { a: [1, 2], b: '__proto__' } });
    expect((await post('{"constructor":{"name":"x"}}')).json()).toEqual({ body: { constructor: { name: 'x' } } });
  });

  it('follows the instance setting that removes the key', async () => {
    const response = await post('{"a":1,"__proto__":{"x":1}}', 'remove');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ body: { a: 1 } });
  });
});

describe('registerFallbackHandlers', () => {
  it('gives scopes registered later the shared JSON parser', async () => {
    const instance = Fastify();
    app = instance;
    registerFallbackHandlers(instance);
    await instance.register(async (scope) => {
      installErrorHandler(scope, CODES);
      scope.post('/scoped', async (request) => ({ body: request.body }));
    });
    instance.post('/root', async (request) => ({ body: request.body }));
    const payload = '{"__proto__":{"x":1}}';
    const headers = { 'content-type': 'application/json' };

    const scoped = await instance.inject({ method: 'POST', url: '/scoped', headers, payload });
    const root = await instance.inject({ method: 'POST', url: '/root', headers, payload });

    expect(scoped.json()).toEqual({ error: { code: 'T_INVALID_JSON', message: FORBIDDEN_KEY_MESSAGE } });
    expect(root.statusCode).toBe(400);
    expect(root.json()).toEqual({ error: { code: 'HTTP_ERR_INVALID_REQUEST', message: FORBIDDEN_KEY_MESSAGE } });
  });
});

describe('body media type and encoding', () => {
  /** Starts an app with the root handlers and POST /echo, and posts `payload` with `headers`. */
  async function postWith(headers: Record<string, string>, payload: string | Buffer) {
    const instance = Fastify();
    app = instance;
    registerFallbackHandlers(instance);
    instance.post('/echo', async (request) => ({ body: request.body }));
    return instance.inject({ method: 'POST', url: '/echo', headers, payload });
  }

  it('names the content type it does not accept', async () => {
    const response = await postWith({ 'content-type': 'text/csv' }, 'a,b');
    expect(response.statusCode).toBe(415);
    expect(response.json()).toEqual({
      error: { code: 'HTTP_ERR_UNSUPPORTED_MEDIA_TYPE', message: 'the request body must be JSON with content-type: application/json; received content-type "text/csv"' },
    });
  });

  it('says when a body has no content type', async () => {
    const response = await postWith({}, '{"a":1}');
    expect(response.statusCode).toBe(415);
    expect(response.json().error.message).toBe('the request body must be JSON with content-type: application/json; the request has a body but no content-type');
  });

  it('cuts a long content type with an ellipsis', async () => {
    const response = await postWith({ 'content-type': `text/${'x'.repeat(200)}` }, 'a');
    expect(response.json().error.message).toBe(`the request body must be JSON with content-type: application/json; received content-type "text/${'x'.repeat(75)}..."`);
  });

  it.each(['gzip', 'br', 'GZIP', 'identity, gzip'])('rejects content-encoding %s with 415', async (encoding) => {
    const response = await postWith({ 'content-type': 'application/json', 'content-encoding': encoding }, gzipSync('{"a":1}'));
    expect(response.statusCode).toBe(415);
    expect(response.headers['accept-encoding']).toBe('identity');
    expect(response.json()).toEqual({
      error: {
        code: 'HTTP_ERR_UNSUPPORTED_MEDIA_TYPE',
        message: `the request body has content-encoding ${JSON.stringify(encoding)}, which this server does not decode; send the body uncompressed and without a content-encoding header`,
      },
    });
  });

  it('reads a body with content-encoding identity', async () => {
    const response = await postWith({ 'content-type': 'application/json', 'content-encoding': 'Identity' }, '{"a":1}');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ body: { a: 1 } });
  });
});
