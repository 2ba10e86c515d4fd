import { Lifecycle, registerFallbackHandlers, rejectRequestsUnlessReady } from '@nexttap/http';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';

async function serverIn(state: 'starting' | 'ready' | 'draining') {
  const lifecycle = new Lifecycle();
  lifecycle.moveTo(state);
  const app = Fastify({ return503OnClosing: false });
  rejectRequestsUnlessReady(app, lifecycle);
  registerFallbackHandlers(app);
  app.get('/v1/thing', async () => ({ ok: true }));
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.ready();
  return app;
}

describe('rejectRequestsUnlessReady', () => {
  it('serves requests while ready', async () => {
    const app = await serverIn('ready');
    const response = await app.inject({ method: 'GET', url: '/v1/thing' });
    expect(response.statusCode).toBe(200);
    await app.close();
  });

  it('rejects requests while draining', async () => {
    const app = await serverIn('draining');
    const response = await app.inject({ method: 'GET', url: '/v1/thing' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toMatchObject({ error: { code: 'HTTP_ERR_SHUTTING_DOWN' } });
    await app.close();
  });

  it('rejects requests while starting', async () => {
    const app = await serverIn('starting');
    const response = await app.inject({ method: 'GET', url: '/v1/thing' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.headers.connection).not.toBe('close');
    expect(response.json()).toMatchObject({ error: { code: 'HTTP_ERR_STARTING' } });
    await app.close();
  });

  it('keeps health routes while starting', async () => {
    const app = await serverIn('starting');
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    await app.close();
  });

  it('keeps health routes while draining', async () => {
    const app = await serverIn('draining');
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    await app.close();
  });
});
