import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';

type ResponseCounter = Counter<'method' | 'route' | 'status'>;

/**
 * The instance decorator that stores the reply counter. A decorator of the root instance is
 * inherited by every plugin scope, so a route in a scope finds the counter through
 * `request.server`.
 */
const RESPONSE_COUNTER = Symbol('nexttap.responseCounter');

/** Responses already counted outside the onResponse hook, which the hook then skips. */
const countedOutsideHooks = new WeakSet<ServerResponse>();

/**
 * Counts every reply in `nexttap_http_responses_total{method, route, status}`, so that operators
 * can alert on the rate of 5xx and 4xx replies per route. The route label is the route's pattern
 * (`/v1/feed`), or `unmatched` for a request no route serves, so a client cannot add label values
 * by requesting new paths.
 */
export function countResponses(app: FastifyInstance, metrics: Registry): void {
  const responses = new Counter({
    name: 'nexttap_http_responses_total',
    help: 'HTTP replies by method, route pattern and status code. A streamed reply counts once, when its head is sent.',
    labelNames: ['method', 'route', 'status'],
    registers: [metrics],
  });
  app.decorate(RESPONSE_COUNTER, responses);
  // A callback hook rather than an async one, which costs a promise per reply.
  app.addHook('onResponse', (request, reply, done) => {
    if (!countedOutsideHooks.has(reply.raw)) {
      const route = request.routeOptions.url ?? 'unmatched';
      responses.inc({ method: request.method, route, status: String(reply.statusCode) });
    }
    done();
  });
}

/**
 * Counts a reply of `app` that its onResponse hook does not see, such as a reply to a path that
 * fastify's router rejects before routing, under the route `unmatched`. Does nothing when
 * `countResponses` was not called on `app`.
 */
export function countResponseOutsideHooks(app: FastifyInstance, method: string, statusCode: number): void {
  counterOf(app)?.inc({ method, route: 'unmatched', status: String(statusCode) });
}

/**
 * Counts a hijacked reply, such as a Server-Sent Events stream, under its route pattern and the
 * status of the head it wrote. Call it right after `reply.raw.writeHead`. fastify 5 runs the
 * onResponse hook of a hijacked reply only on the response's finish or error event, and a stream
 * that the client closes does not finish. So the hook would miss most streams, and it would count
 * the others only when they end, which can be hours later. The reply is counted here instead, and
 * the hook skips it.
 * Does nothing when `countResponses` was not called on the request's instance.
 */
export function countHijackedResponse(request: FastifyRequest, reply: FastifyReply): void {
  const counter = counterOf(request.server);
  if (counter === undefined) {
    return;
  }
  countedOutsideHooks.add(reply.raw);
  counter.inc({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.raw.statusCode) });
}

function counterOf(instance: FastifyInstance): ResponseCounter | undefined {
  return instance.hasDecorator(RESPONSE_COUNTER) ? instance.getDecorator<ResponseCounter>(RESPONSE_COUNTER) : undefined;
}
