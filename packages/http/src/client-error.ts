import { randomUUID } from 'node:crypto';
import { maxHeaderSize as defaultMaxHeaderSize, STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ErrorReplyBody } from './api-error';

/** A parse or timeout error that Node's HTTP server raises before any route reads the request. */
interface ClientError extends Error {
  code?: string;
  /** llhttp's description of a parse error, such as `Invalid header token`. */
  reason?: string;
}

/** The HTTP server limits that client error messages quote. */
interface ServerLimits {
  maxHeaderSize?: number;
  headersTimeout: number;
  requestTimeout: number;
}

/**
 * Makes requests that Node's HTTP parser rejects get the documented error shape instead of
 * fastify's `{"error":"Request Header Fields Too Large","statusCode":431}`. Node hands such a
 * request to the server's `clientError` listeners before fastify receives it, with no request or
 * reply object, so the reply is written to the socket here. The listener that fastify's
 * constructor installed is removed, because two listeners would both write a reply.
 */
export function installClientErrorHandler(app: FastifyInstance): void {
  const server = app.server;
  for (const listener of server.listeners('clientError')) {
    server.removeListener('clientError', listener as (...args: unknown[]) => void);
  }
  server.on('clientError', (error: ClientError, socket: Duplex) => {
    replyToClientError(error, socket, server, app.log);
  });
}

/**
 * Writes the error reply of a client error and closes the connection. Nothing is written when the
 * client reset the connection, or when a reply on this connection has already sent its headers
 * (a live feed, for instance), because more bytes would corrupt that reply.
 */
function replyToClientError(error: ClientError, socket: Duplex, server: Server, log: FastifyBaseLogger): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  const { statusCode, body } = describeClientError(error, server);
  const requestId = randomUUID();
  // The error's rawPacket contains the request bytes, which may contain an Authorization header, so
  // only the codes are logged.
  log.info({ reqId: requestId, code: body.error.code, errorCode: error.code }, 'request rejected before routing');
  if (!socket.writable || replyStarted(socket)) {
    socket.destroy();
    return;
  }
  const json = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(json)}`,
    `x-request-id: ${requestId}`,
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${json}`, () => socket.destroy());
}

/**
 * Tells whether a reply on this connection has sent its headers. Node keeps the reply in progress
 * as `socket._httpMessage`.
 * NOTE: `_httpMessage` is internal to Node's HTTP server (checked on Node 20); Node's own
 * `clientError` default makes the same check.
 */
function replyStarted(socket: Duplex): boolean {
  const reply = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  return reply?.headersSent === true;
}

/** Maps a client error to its status and body, as Node's default reply would map its status. */
export function describeClientError(error: ClientError, limits: ServerLimits): { statusCode: number; body: ErrorReplyBody } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW': {
      const limitBytes = limits.maxHeaderSize ?? defaultMaxHeaderSize;
      return reply(431, 'HTTP_ERR_HEADERS_TOO_LARGE', `the request line and headers are larger than the server limit of ${limitBytes} bytes; send a shorter URL or fewer or shorter headers`);
    }
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return reply(413, 'HTTP_ERR_BODY_TOO_LARGE', 'the chunk extensions of the request body are larger than Node.js accepts; send the body without chunk extensions');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return reply(408, 'HTTP_ERR_REQUEST_TIMEOUT', `the request was not received completely within ${timeoutText(limits)}; send the whole request at once, and check the Content-Length`);
    default: {
      const reason = typeof error.reason === 'string' && error.reason !== '' ? ` (${error.reason})` : '';
      return reply(400, 'HTTP_ERR_INVALID_REQUEST', `the request is not valid HTTP/1.1${reason}; check the request line and that each header is a name, a colon and a value`);
    }
  }
}

/**
 * Names the timeout that ran out. Node raises the same error when the headers take longer than
 * `headersTimeout` and when the whole request takes longer than `requestTimeout`.
 */
function timeoutText({ headersTimeout, requestTimeout }: ServerLimits): string {
  if (requestTimeout <= 0) {
    return `the server timeout of ${headersTimeout} ms for the headers`;
  }
  if (headersTimeout > 0 && headersTimeout < requestTimeout) {
    return `the server timeouts (${headersTimeout} ms for the headers, ${requestTimeout} ms for the whole request)`;
  }
  return `the server timeout of ${requestTimeout} ms`;
}

function reply(statusCode: number, code: string, message: string): { statusCode: number; body: ErrorReplyBody } {
  return { statusCode, body: { error: { code, message } } };
}
