import type { FastifyInstance } from 'fastify';
import { Counter, type Registry } from 'prom-client';

/** The reply counter of each instance that `countResponses` set up, for replies sent without hooks. */
const responseCounters = new WeakMap<FastifyInstance, Counter<'method' | 'route' | 'status'>>();

/**
 * Counts every reply in `nexttap_http_responses_total{method, route, status}`, so that operators
 * can alert on the rate of 5xx and 4xx replies per route. The route label is the route's pattern
 * (`/v1/feed`), or `unmatched` for a request no route serves, so a client cannot add label values
 * by requesting new paths.
 */
export function countResponses(app: FastifyInstance, metrics: Registry): void {
  const responses = new Counter({
    name: 'nexttap_http_responses_total',
    help: 'HTTP replies by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'],
    registers: [metrics],
  });
  responseCounters.set(app, responses);
  // A callback hook rather than an async one, which costs a promise per reply.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    responses.inc({ method: request.method, route, status: String(reply.statusCode) });
    done();
  });
}

/**
 * Counts a reply of `app` that its onResponse hook does not see, such as a reply to a path that
 * fastify's router rejects before routing, under the route `unmatched`. Does nothing when
 * `countResponses` was not called on `app`.
 */
export function countResponseOutsideHooks(app: FastifyInstance, method: string, statusCode: number): void {
  responseCounters.get(app)?.inc({ method, route: 'unmatched', status: String(statusCode) });
}
