import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { quoteText } from './json-preview';
import { findJsonSyntaxProblem } from './json-syntax';
import { decodeUtf8Body, InvalidUtf8BodyError } from './utf8-body';

/**
 * A JSON body that parses but has a `__proto__` key or a `constructor` object with a `prototype`
 * key, at any depth. fastify's JSON parser rejects such bodies to guard against prototype
 * poisoning, and the error handler replies 400 with the service's invalid-JSON code and this message.
 */
export class ForbiddenJsonKeyError extends Error {
  override readonly name = 'ForbiddenJsonKeyError';
  readonly statusCode = 400;

  constructor() {
    super('the request body may not contain a __proto__ or constructor.prototype key, at any depth; remove the key and send the request again');
  }
}

/**
 * A body that is not JSON. The message names the first problem and its byte offset in the body,
 * counted from 0 like the offset of InvalidUtf8BodyError, such as "unexpected end of input at byte
 * offset 13". The error handler replies 400 with the service's invalid-JSON code and this message.
 */
export class InvalidJsonBodyError extends Error {
  override readonly name = 'InvalidJsonBodyError';
  readonly statusCode = 400;

  constructor(text: string) {
    super(`the request body is not valid JSON: ${describeJsonProblem(text)}; send a JSON object`);
  }
}

function describeJsonProblem(text: string): string {
  if (text.length === 0) {
    return 'the body is empty';
  }
  const found = findJsonSyntaxProblem(text);
  if (found === undefined) {
    // NOTE: unreachable while the scan and fastify's parser accept the same grammar.
    return 'the JSON parser rejected it';
  }
  return `${found.problem} at byte offset ${Buffer.byteLength(text.slice(0, found.index), 'utf8')}`;
}

/**
 * A body sent with a `content-encoding` other than `identity`, such as gzip. The server does not
 * decode request bodies, so it would read compressed bytes as JSON. The error handler replies 415
 * with the service's unsupported-media-type code and `Accept-Encoding: identity`, as RFC 7231
 * (section 6.5.13) and RFC 7694 describe for a content coding the server does not support.
 */
export class UnsupportedContentEncodingError extends Error {
  override readonly name = 'UnsupportedContentEncodingError';
  readonly statusCode = 415;

  constructor(readonly contentEncoding: string) {
    super(
      `the request body has content-encoding ${quoteText(contentEncoding, 40)}, which this server does not decode; ` +
        'send the body uncompressed and without a content-encoding header',
    );
  }
}

/**
 * Returns an UnsupportedContentEncodingError when the request declares a content coding of its
 * body, or undefined. `identity`, the coding that changes nothing, is accepted.
 */
export function contentEncodingError(request: FastifyRequest): UnsupportedContentEncodingError | undefined {
  const header = request.headers['content-encoding'];
  if (header === undefined) {
    return undefined;
  }
  const codings = header.split(',').map((coding) => coding.trim().toLowerCase()).filter((coding) => coding !== '');
  return codings.every((coding) => coding === 'identity') ? undefined : new UnsupportedContentEncodingError(header);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Whether the route reads no request body. Such a route accepts an empty body whatever its
     * content-type, because clients such as curl users often send `content-type: application/json`
     * with no body. Default false: an empty JSON body is rejected as invalid JSON.
     */
    readsNoBody?: boolean;
  }
}

/** Route options of a route that reads no request body; see `readsNoBody`. */
export const NO_BODY_ROUTE_OPTIONS = { config: { readsNoBody: true } } as const;

/** A JSON body parser that takes the body as a string. */
export type JsonBodyParser = (request: FastifyRequest, text: string, done: (error: Error | null, body?: unknown) => void) => void;

/**
 * Returns fastify's JSON body parser under the instance's prototype-poisoning settings, except for
 * its errors. fastify raises one plain invalid-JSON error and drops the cause. So a body rejected
 * only for a `__proto__` or `constructor.prototype` key fails with ForbiddenJsonKeyError, and any
 * other rejected body with InvalidJsonBodyError, which names where the JSON breaks. A body with a
 * content coding fails with UnsupportedContentEncodingError, because fastify 5 reads it undecoded.
 * An empty body parses as undefined on a route with `readsNoBody`.
 */
export function createJsonBodyParser(instance: FastifyInstance): JsonBodyParser {
  const { onProtoPoisoning, onConstructorPoisoning } = instance.initialConfig;
  const parseJson = instance.getDefaultJsonParser(onProtoPoisoning ?? 'error', onConstructorPoisoning ?? 'error');
  return (request, text, done) => {
    const encodingError = contentEncodingError(request);
    if (encodingError !== undefined) {
      done(encodingError);
      return;
    }
    if (text.length === 0 && request.routeOptions.config.readsNoBody === true) {
      done(null, undefined);
      return;
    }
    parseJson(request, text, (error, body) => {
      if (error !== null && isInvalidJsonError(error)) {
        done(isJson(text) ? new ForbiddenJsonKeyError() : new InvalidJsonBodyError(text));
        return;
      }
      done(error, body);
    });
  };
}

/**
 * Makes `instance` and the scopes registered in it afterwards parse JSON bodies with
 * `createJsonBodyParser`. The body is read as bytes and rejected with InvalidUtf8BodyError when it
 * is not valid UTF-8, because fastify's string decoding would turn such bytes into U+FFFD.
 */
export function installJsonBodyParser(instance: FastifyInstance): void {
  const parse = createJsonBodyParser(instance);
  instance.removeContentTypeParser('application/json');
  instance.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, bytes, done) => {
    const text = jsonBodyText(request, bytes as Buffer);
    if (text instanceof Error) {
      done(text);
      return;
    }
    parse(request, text, done);
  });
}

/**
 * Makes `instance` accept an empty body of any content-type other than JSON on routes with
 * `readsNoBody`, and reject every other body of such a type with fastify's 415 error, as it does
 * without this parser. The body is not read, so a large body of another type still gets 415.
 */
export function acceptEmptyBodiesOfAnyType(instance: FastifyInstance): void {
  instance.addContentTypeParser('*', (request, _payload, done) => {
    if (request.routeOptions.config.readsNoBody === true && declaresEmptyBody(request)) {
      done(null, undefined);
      return;
    }
    done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers['content-type']));
  });
}

/** Tells whether the headers declare an empty body: `Content-Length: 0`, or neither a length nor chunked transfer. */
function declaresEmptyBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return length === undefined ? request.headers['transfer-encoding'] === undefined : Number(length) === 0;
}

/**
 * Returns the text of a JSON body read as bytes, or the error that rejects it: a content coding
 * first, because a compressed body is not UTF-8 text, then invalid UTF-8.
 */
export function jsonBodyText(request: FastifyRequest, bytes: Buffer): string | UnsupportedContentEncodingError | InvalidUtf8BodyError {
  return contentEncodingError(request) ?? decodeUtf8Body(bytes);
}

function isInvalidJsonError(error: Error): boolean {
  return 'code' in error && (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY');
}

/**
 * Tells whether plain JSON.parse accepts `text`, which keeps `__proto__` as an own key. The check
 * runs only on bodies fastify already rejected, so it adds nothing to accepted requests. A leading
 * byte order mark is skipped, as fastify's parser (secure-json-parse 4) skips it.
 */
function isJson(text: string): boolean {
  try {
    JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    return true;
  } catch {
    return false;
  }
}
