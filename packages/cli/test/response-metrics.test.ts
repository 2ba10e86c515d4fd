import { countHijackedResponse, countResponses, registerFallbackHandlers } from '@nexttap/http';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

describe('countResponses', () => {
  it('counts replies by route pattern and status', async () => {
    const metrics = new Registry();
    const app = Fastify();
    countResponses(app, metrics);
    registerFallbackHandlers(app);
    app.get('/v1/items/:itemId', async () => ({ ok: true }));
    await app.ready();

    await app.inject({ method: 'GET', url: '/v1/items/a' });
    await app.inject({ method: 'GET', url: '/v1/items/b' });
    await app.inject({ method: 'GET', url: '/no/such/path' });
    const text = await metrics.metrics();

    expect(text).toContain('nexttap_http_responses_total{method="GET",route="/v1/items/:itemId",status="200"} 2');
    expect(text).toContain('nexttap_http_responses_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).not.toContain('/no/such/path');
    await app.close();
  });

  it('counts a hijacked reply once', async () => {
    const metrics = new Registry();
    const app = Fastify();
    countResponses(app, metrics);
    registerFallbackHandlers(app);
    // Routes in a plugin scope, as the ranker's are, see the counter through their own instance.
    await app.register(async (scope) => {
      scope.get('/v1/stream', async (request, reply) => {
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
        countHijackedResponse(request, reply);
        // The server ends this stream, so the onResponse hook runs too and must skip it.
        reply.raw.end('data: done\n\n');
      });
    });
    await app.ready();

    const response = await app.inject({ method: 'GET', url: '/v1/stream' });
    const text = await metrics.metrics();

    expect(response.statusCode).toBe(200);
    expect(text).toContain('nexttap_http_responses_total{method="GET",route="/v1/stream",status="200"} 1');
    await app.close();
  });
});
