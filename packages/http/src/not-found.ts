import type { FastifyRequest } from 'fastify';
import type { ErrorReplyBody } from './api-error';

/** Builds the 404 body of a request that no route serves, naming its method and path. */
export function notFoundBody(request: FastifyRequest): ErrorReplyBody {
  return {
    error: { code: 'HTTP_ERR_NOT_FOUND', message: `no route for ${request.method} ${request.url.split('?')[0]}; see the HTTP API in README.md` },
  };
}
