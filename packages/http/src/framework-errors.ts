import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorReplyBody } from './api-error';
import { quoteText } from './json-preview';
import { countResponseOutsideHooks } from './response-metrics';

/** Characters of a rejected path shown in the message. */
const SHOWN_PATH_LENGTH = 120;

/**
 * Replies to the errors that fastify's router raises before any route or hook runs, in the
 * documented error shape. Pass it as the `frameworkErrors` option of the fastify constructor.
 * fastify 5 calls it for a path that is not valid percent-encoded UTF-8 (FST_ERR_BAD_URL), a
 * path parameter longer than the router's `maxParamLength` (FST_ERR_MAX_PARAM_LENGTH, 100
 * characters by default) and a failed async route constraint. Without it, fastify writes
 * `{"error":"Bad Request","code":"FST_ERR_BAD_URL"}` itself.
 *
 * fastify runs none of the instance's hooks for these requests, so this handler does their work:
 * it sets `x-request-id`, logs the rejection and counts the reply in
 * `nexttap_http_responses_total` under the route `unmatched`.
 */
export function replyToFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { statusCode, body } = describeFrameworkError(error, request.url);
  if (statusCode >= 500) {
    request.log.error({ err: error, code: body.error.code }, 'request failed');
  } else {
    request.log.info({ code: body.error.code, errorCode: error.code }, 'request rejected before routing');
  }
  void reply.status(statusCode).header('x-request-id', request.id).send(body);
  countResponseOutsideHooks(request.server as FastifyInstance, request.method, statusCode);
}

function describeFrameworkError(error: FastifyError, url: string): { statusCode: number; body: ErrorReplyBody } {
  const path = quoteText(url.split('?')[0] ?? '', SHOWN_PATH_LENGTH);
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return invalidRequest(`the path ${path} is not valid percent-encoded UTF-8; write each reserved or non-ASCII byte as % and two hex digits, such as %2F for / or %C3%A9 for é`);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return invalidRequest(`a segment of the path ${path} is longer than the server accepts for a path parameter; no id in a path is that long, so check the URL`);
    default:
      return { statusCode: 500, body: { error: { code: 'HTTP_ERR_INTERNAL', message: 'internal error; the request was not processed' } } };
  }
}

function invalidRequest(message: string): { statusCode: number; body: ErrorReplyBody } {
  return { statusCode: 400, body: { error: { code: 'HTTP_ERR_INVALID_REQUEST', message } } };
}
