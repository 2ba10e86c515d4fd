import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Lifecycle } from './lifecycle';

/**
 * Registers `GET /healthz` (the process answers), `GET /readyz` (200 only in the ready state,
 * 503 with the state otherwise) and `GET /metrics` (Prometheus text format).
 */
export function registerHealthRoutes(instance: FastifyInstance, lifecycle: Lifecycle, metrics: Registry): void {
  instance.get('/healthz', async () => ({ status: 'ok' }));
  instance.get('/readyz', async (_request, reply) => {
    if (!lifecycle.isReady) {
      return reply.status(503).send({ status: lifecycle.state });
    }
    return { status: 'ready' };
  });
  instance.get('/metrics', async (_request, reply) => {
    return reply.header('content-type', metrics.contentType).send(await metrics.metrics());
  });
}
