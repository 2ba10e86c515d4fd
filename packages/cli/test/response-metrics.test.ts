import { countResponses, registerFallbackHandlers } from '@nexttap/http';
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
});
