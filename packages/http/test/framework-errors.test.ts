import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countResponses, registerFallbackHandlers, replyToFrameworkError } from '../src/index';

describe('replyToFrameworkError', () => {
  const lines: Array<Record<string, unknown>> = [];
  const metrics = new Registry();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino({ level: 'info' }, sink) as FastifyBaseLogger, frameworkErrors: replyToFrameworkError });

  beforeAll(async () => {
    countResponses(app, metrics);
    registerFallbackHandlers(app);
    app.get('/v1/experiments/:id', async () => ({ ok: true }));
    app.get('/v1/feed/live', async () => ({ ok: true }));
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
  });

  it.each(['/%ZZ', '/v1/experiments/%ZZ', '/v1/feed/live%ZZ', '/v1/experiments/%C0%80'])('rejects the path %s in the documented shape', async (url) => {
    const response = await app.inject({ method: 'GET', url });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        code: 'HTTP_ERR_INVALID_REQUEST',
        message: `the path ${JSON.stringify(url)} is not valid percent-encoded UTF-8; write each reserved or non-ASCII byte as % and two hex digits, such as %2F for / or %C3%A9 for é`,
      },
    });
    expect(response.headers['x-request-id']).toBeTypeOf('string');
  });

  it('logs and counts the rejection', async () => {
    lines.length = 0;
    const response = await app.inject({ method: 'POST', url: '/nope%ZZ?limit=1', payload: {} });
    const logged = lines.filter((line) => line.msg === 'request rejected before routing');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 30, code: 'HTTP_ERR_INVALID_REQUEST', errorCode: 'FST_ERR_BAD_URL', reqId: response.headers['x-request-id'] });
    expect(await metrics.metrics()).toContain('nexttap_http_responses_total{method="POST",route="unmatched",status="400"} 1');
  });

  it('rejects a path parameter over the router limit', async () => {
    const response = await app.inject({ method: 'GET', url: `/v1/experiments/${'x'.repeat(101)}` });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('HTTP_ERR_INVALID_REQUEST');
    expect(response.json().error.message).toMatch(/is longer than the server accepts for a path parameter/);
  });
});
