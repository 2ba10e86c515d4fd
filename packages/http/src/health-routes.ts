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

/** The OpenAPI paths of the routes of `registerHealthRoutes`. */
export const HEALTH_OPENAPI_PATHS: Record<string, unknown> = {
  '/healthz': {
    get: {
      summary: 'Tell whether the process is alive',
      description: 'Replies 200 in every state, also while the process drains, so that a liveness probe does not restart a process that is shutting down.',
      responses: {
        '200': { description: 'The process is running.', content: { 'application/json': { schema: statusSchema(['ok']) } } },
      },
    },
  },
  '/readyz': {
    get: {
      summary: 'Tell whether the process accepts traffic',
      responses: {
        '200': { description: 'Every role of the process has started.', content: { 'application/json': { schema: statusSchema(['ready']) } } },
        '503': {
          description: 'The process is starting, draining or stopped; the body names the state. This body is not the error shape, because a probe reads the state from it.',
          content: { 'application/json': { schema: statusSchema(['starting', 'draining', 'stopped']) } },
        },
      },
    },
  },
  '/metrics': {
    get: {
      summary: 'Return the Prometheus metrics of the process',
      responses: {
        '200': { description: 'Metrics in the Prometheus text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } },
      },
    },
  },
};

function statusSchema(states: readonly string[]): Record<string, unknown> {
  return { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: [...states] } }, additionalProperties: false };
}
