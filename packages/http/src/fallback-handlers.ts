import type { FastifyInstance } from 'fastify';
import { installClientErrorHandler } from './client-error';
import { installErrorHandler } from './error-handler';
import { acceptEmptyBodiesOfAnyType, installJsonBodyParser } from './json-body-parser';
import type { Lifecycle } from './lifecycle';
import { notFoundBody } from './not-found';

/**
 * Error codes for requests outside any service's routes: unknown routes, requests that Node's HTTP
 * parser rejects, and body errors that fastify raises before a route is chosen. docs/errors.md
 * lists them.
 */
export const HTTP_ERRORS = {
  HTTP_ERR_NOT_FOUND: { statusCode: 404, description: 'No route has this method and path; the message names both. It comes before any problem with the body, such as one over the server limit.' },
  HTTP_ERR_INVALID_REQUEST: { statusCode: 400, description: 'The request is malformed before any route could read it: it is not valid HTTP/1.1, or its path is not valid percent-encoded UTF-8 (such as /%ZZ) or a path parameter (such as an experiment id) is longer than the router accepts (100 characters); the message names the path. A path that matches no route gets 404 `HTTP_ERR_NOT_FOUND` whatever its length.' },
  HTTP_ERR_REQUEST_TIMEOUT: { statusCode: 408, description: 'The request was not received completely within HTTP_REQUEST_TIMEOUT_MS; the connection is closed.' },
  HTTP_ERR_BODY_TOO_LARGE: { statusCode: 413, description: 'The body is larger than the server limit.' },
  HTTP_ERR_UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, description: 'The body is not application/json, or it has a content-encoding such as gzip, which the server does not decode; send uncompressed JSON.' },
  HTTP_ERR_HEADERS_TOO_LARGE: { statusCode: 431, description: 'The request line and headers together are larger than Node.js accepts (16 KiB by default), for instance because of a long query string; the connection is closed.' },
  HTTP_ERR_INTERNAL: { statusCode: 500, description: 'An unexpected failure outside the services; the log has the details.' },
  HTTP_ERR_SHUTTING_DOWN: { statusCode: 503, description: 'The process is shutting down; retry after the Retry-After seconds, on a new connection.' },
  HTTP_ERR_STARTING: { statusCode: 503, description: 'The process listens but is still starting, for instance loading seed data; retry after the Retry-After seconds, or once GET /readyz replies 200.' },
} as const;

/**
 * Installs the root handlers: a 404 in the documented error shape for unknown routes, the root
 * error handler with the `HTTP_ERR_*` codes, and the same shape for requests that Node's HTTP
 * parser rejects (`installClientErrorHandler`). JSON is the only accepted body type, so the
 * default text/plain parser is removed and such bodies get 415, except an empty body on a route
 * with `readsNoBody`. The JSON parser of
 * `installJsonBodyParser` serves the root and every scope registered after this call.
 */
export function registerFallbackHandlers(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
  installJsonBodyParser(app);
  acceptEmptyBodiesOfAnyType(app);
  installClientErrorHandler(app);
  installErrorHandler(app, {
    invalidJson: 'HTTP_ERR_INVALID_REQUEST',
    bodyTooLarge: 'HTTP_ERR_BODY_TOO_LARGE',
    unsupportedMediaType: 'HTTP_ERR_UNSUPPORTED_MEDIA_TYPE',
    internal: 'HTTP_ERR_INTERNAL',
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(notFoundBody(request));
  });
}

const HEALTH_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Replies 503 with Retry-After, in the documented error shape, to requests that arrive before the
 * process is ready (`HTTP_ERR_STARTING`) or while it drains (`HTTP_ERR_SHUTTING_DOWN`, with
 * `Connection: close`). Requests already running finish as usual, and the health routes keep
 * responding, so a probe reads the state and a liveness probe does not restart a process that is
 * starting or draining. Create the server with `return503OnClosing: false`, or fastify replies
 * first with its own 503 (without a code or Retry-After) once `close()` has started.
 */
export function rejectRequestsUnlessReady(app: FastifyInstance, lifecycle: Lifecycle): void {
  app.addHook('onRequest', async (request, reply) => {
    if (lifecycle.state === 'ready' || HEALTH_ROUTES.has(request.routeOptions.url ?? '')) {
      return;
    }
    if (lifecycle.state === 'starting') {
      await reply
        .status(503)
        .header('retry-after', '1')
        .send({ error: { code: 'HTTP_ERR_STARTING', message: 'the server is starting; retry the request once GET /readyz replies 200' } });
      return;
    }
    await reply
      .status(503)
      .header('retry-after', '1')
      .header('connection', 'close')
      .send({ error: { code: 'HTTP_ERR_SHUTTING_DOWN', message: 'the server is shutting down; retry the request on a new connection' } });
  });
}
