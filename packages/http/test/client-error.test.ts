import type { Server } from 'node:http';
import { connect } from 'node:net';
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { registerFallbackHandlers } from '../src/index';

/** The status code, headers and body of a raw HTTP reply. */
interface RawReply {
  status: number;
  headers: Map<string, string>;
  body: string;
}

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Starts a server with the fallback handlers on 127.0.0.1 and returns its port. */
async function listen(options: FastifyHttpOptions<Server> = {}): Promise<number> {
  const instance = Fastify(options);
  app = instance;
  registerFallbackHandlers(instance);
  instance.get('/v1/feed/live', async () => ({ ok: true }));
  instance.post('/v1/feed', async () => ({ ok: true }));
  instance.get('/stream', async (_request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.write('data: first\n\n');
  });
  await instance.listen({ port: 0, host: '127.0.0.1' });
  const address = instance.server.address();
  if (typeof address !== 'object' || address === null) {
    throw new Error('the server has no TCP address');
  }
  return address.port;
}

/**
 * Writes `request` on a new connection as it is, without the checks of an HTTP client, and
 * resolves with the reply once the server closes the connection. `next.request` is written on the
 * same connection once the reply contains `next.after`.
 */
function sendRaw(port: number, request: string, next?: { after: string; request: string }): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (next !== undefined && received.includes(next.after)) {
        socket.write(next.request);
        next = undefined;
      }
    });
    // The server may close while the rest of a long request is still being sent; the reply has arrived by then.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const [head = '', body = ''] = received.split('\r\n\r\n', 2);
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]);
      if (!Number.isInteger(status)) {
        reject(new Error(`no HTTP reply; received ${JSON.stringify(received.slice(0, 200))}`));
        return;
      }
      const headers = new Map(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status, headers, body });
    });
    socket.write(request);
  });
}

describe('client errors', () => {
  it('reply 431 with the error shape to long headers', async () => {
    const port = await listen();
    const reply = await sendRaw(port, `GET /v1/feed/live?sessionId=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(reply.status).toBe(431);
    expect(reply.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(reply.headers.get('connection')).toBe('close');
    expect(Number(reply.headers.get('content-length'))).toBe(Buffer.byteLength(reply.body));
    expect(JSON.parse(reply.body)).toEqual({
      error: {
        code: 'HTTP_ERR_HEADERS_TOO_LARGE',
        message:
          'the request line and headers are larger than the server limit of 16384 bytes; send a shorter URL or fewer or shorter headers',
      },
    });
  });

  it('reply 400 with the error shape to a malformed request', async () => {
    const port = await listen();
    const reply = await sendRaw(port, 'GET /v1/feed/live HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n');
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toEqual({
      error: {
        code: 'HTTP_ERR_INVALID_REQUEST',
        message: 'the request is not valid HTTP/1.1 (Invalid header token); check the request line and that each header is a name, a colon and a value',
      },
    });
  });

  it('reply 408 with the error shape to a slow request', async () => {
    const port = await listen({ requestTimeout: 500, http: { requestTimeout: 500, headersTimeout: 500, connectionsCheckingInterval: 100 } });
    const reply = await sendRaw(port, 'POST /v1/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"se');
    expect(reply.status).toBe(408);
    expect(JSON.parse(reply.body)).toEqual({
      error: {
        code: 'HTTP_ERR_REQUEST_TIMEOUT',
        message: 'the request was not received completely within the server timeout of 500 ms; send the whole request at once, and check the Content-Length',
      },
    });
  });

  it('leave a started reply as it is', async () => {
    const port = await listen();
    // The second request on the connection is malformed and arrives while the stream of the first is open.
    const reply = await sendRaw(port, 'GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', { after: 'data: first', request: 'GET / HTTP/1.1\r\nBad Header: x\r\n\r\n' });
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('data: first');
    expect(reply.body).not.toContain('HTTP/1.1');
  });
});
