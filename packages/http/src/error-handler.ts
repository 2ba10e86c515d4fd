import type { FastifyError, FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import { ApiError, type ErrorReplyBody, type HttpErrorCodes } from './api-error';
import { ForbiddenJsonKeyError, InvalidJsonBodyError, UnsupportedContentEncodingError } from './json-body-parser';
import { quoteText } from './json-preview';
import { notFoundBody } from './not-found';
import { InvalidUtf8BodyError } from './utf8-body';

/**
 * Installs the error handler of one route scope: ApiErrors keep their code and status, request
 * validation errors name the field, fastify's parser errors get the service's codes, and anything
 * else is a 500 with no internals in the body. A request that no route serves gets the 404 even
 * when fastify rejected its body first (too large, not JSON), because fastify parses the body
 * before it calls the not-found handler. 4xx replies log at info and 5xx at error. The
 * exception is an ApiError with status 503, which logs a warning with its cause, because the
 * service refused on purpose (too many live feeds, draining, a dependency away) and the client
 * retries after Retry-After.
 */
export function installErrorHandler(instance: FastifyInstance, codes: HttpErrorCodes): void {
  instance.setErrorHandler((error: FastifyError | ApiError | ZodError | Error, request, reply) => {
    const { statusCode, body, headers } = request.is404 && isClientError(error)
      ? { statusCode: 404, body: notFoundBody(request), headers: {} }
      : describeError(error, codes, request.routeOptions.bodyLimit, request.headers['content-type']);
    if (statusCode === 503 && error instanceof ApiError) {
      const cause = error.details.cause;
      request.log.warn({ code: body.error.code, ...(cause === undefined ? {} : { err: cause }) }, 'request refused');
    } else if (statusCode >= 500) {
      request.log.error({ err: error, code: body.error.code }, 'request failed');
    } else {
      request.log.info({ code: body.error.code, field: body.error.field }, 'request rejected');
    }
    void reply.status(statusCode).headers(headers).send(body);
  });
}

function describeError(
  error: FastifyError | ApiError | ZodError | Error,
  codes: HttpErrorCodes,
  bodyLimitBytes: number | undefined,
  contentType: string | undefined,
): { statusCode: number; body: ErrorReplyBody; headers: Record<string, string> } {
  if (error instanceof ApiError) {
    const field = error.details.field;
    return {
      statusCode: error.statusCode,
      body: { ...error.details.extra, error: { code: error.code, message: error.message, ...(field === undefined ? {} : { field }) } },
      headers: error.details.headers ?? {},
    };
  }
  if (error instanceof ForbiddenJsonKeyError || error instanceof InvalidJsonBodyError || error instanceof InvalidUtf8BodyError) {
    return reply400(codes.invalidJson, error.message);
  }
  if (error instanceof UnsupportedContentEncodingError) {
    return { statusCode: 415, body: { error: { code: codes.unsupportedMediaType, message: error.message } }, headers: { 'accept-encoding': 'identity' } };
  }
  const fastifyCode = 'code' in error && typeof error.code === 'string' ? error.code : '';
  switch (fastifyCode) {
    // Reached only in a scope without installJsonBodyParser, whose parser names where the JSON breaks.
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return reply400(codes.invalidJson, 'the request body is not valid JSON; send a JSON object');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply400(codes.invalidJson, 'the request body is not valid JSON: the body is empty; send a JSON object');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        statusCode: 413,
        body: {
          error: {
            code: codes.bodyTooLarge,
            message: bodyLimitBytes === undefined
              ? `${error.message}; send a smaller body`
              : `the request body is over this route's limit of ${bodyLimitBytes} bytes; send a smaller body, or split it into several requests`,
          },
        },
        headers: {},
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        statusCode: 415,
        body: { error: { code: codes.unsupportedMediaType, message: unsupportedMediaTypeMessage(contentType) } },
        headers: {},
      };
  }
  const statusCode = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
  if (statusCode >= 400 && statusCode < 500) {
    return reply400(codes.invalidJson, error.message, statusCode);
  }
  return { statusCode: 500, body: { error: { code: codes.internal, message: 'internal error; the request was not processed' } }, headers: {} };
}

/** Tells whether `error` has a 4xx status, as fastify's body parser errors have. */
function isClientError(error: Error): boolean {
  const statusCode = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : 500;
  return statusCode >= 400 && statusCode < 500;
}

/** Characters of a rejected content-type shown in the message. */
const SHOWN_CONTENT_TYPE_LENGTH = 80;

function unsupportedMediaTypeMessage(contentType: string | undefined): string {
  const received = contentType === undefined || contentType.trim() === ''
    ? 'the request has a body but no content-type'
    : `received content-type ${quoteText(contentType, SHOWN_CONTENT_TYPE_LENGTH)}`;
  return `the request body must be JSON with content-type: application/json; ${received}`;
}

function reply400(code: string, message: string, statusCode = 400) {
  return { statusCode, body: { error: { code, message } }, headers: {} };
}
