import { connect, type Socket } from 'node:net';
import { createLogger } from '@nexttap/observability';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig, serverUrl, startServer, type RunningServer } from '../src/index';

const MODEL_DIR = new URL('../../../models/movielens-mlp/1', import.meta.url).pathname;
const REQUEST_TIMEOUT_MS = 1_000;

/** A raw TCP connection to the server that keeps everything it receives. */
interface RawConnection {
  socket: Socket;
  received(): string;
  closedAtMs(): number | undefined;
}

const openConnections: Socket[] = [];

afterEach(() => {
  for (const socket of openConnections.splice(0)) {
    socket.destroy();
  }
});

/** Connects to `url` and writes `request` as it is, so a test can send a request that never completes. */
function sendRaw(url: string, request: string): RawConnection {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  openConnections.push(socket);
  let received = '';
  let closedAtMs: number | undefined;
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  socket.on('close', () => (closedAtMs = performance.now()));
  socket.on('error', () => {});
  socket.write(request);
  return { socket, received: () => received, closedAtMs: () => closedAtMs };
}

describe('HTTP request timeout', () => {
  let server: RunningServer;

  beforeAll(async () => {
    const config = parseServerConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      MODEL_DIR,
      SEED_DATASET: 'none',
      LOG_LEVEL: 'silent',
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      LIVE_HEARTBEAT_INTERVAL_MS: '1000',
    });
    server = await startServer('all', config, { logger: createLogger({ level: 'silent', service: 'http-server-test' }) });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('drops a request whose body stops', async () => {
    const sentAtMs = performance.now();
    const connection = sendRaw(
      server.url,
      'POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"eve',
    );

    // Node checks for timed-out requests once a second, so the cut comes up to 1 s after the timeout.
    await expect.poll(() => connection.closedAtMs(), { timeout: 10_000 }).toBeDefined();
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect((connection.closedAtMs() as number) - sentAtMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
  });

  it('keeps a live feed open past the timeout', async () => {
    const connection = sendRaw(server.url, 'GET /v1/feed/live?sessionId=timeout-live&limit=3 HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
    const heartbeats = () => connection.received().split(': heartbeat\n\n').length - 1;

    // The third heartbeat comes 3 s after the connection opened: past the 1 s timeout and the
    // next check of Node's, which would have cut the connection by 2 s.
    await expect.poll(heartbeats, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(connection.received()).toContain('event: feed');
    expect(connection.closedAtMs()).toBeUndefined();
  });
});

describe('server URL', () => {
  it('puts an IPv6 address in brackets', () => {
    expect(serverUrl('::1', 8080)).toBe('http://[::1]:8080');
    expect(serverUrl('fe80::1%eth0', 8080)).toBe('http://[fe80::1%eth0]:8080');
  });

  it('names loopback for a wildcard address', () => {
    expect(serverUrl('0.0.0.0', 8080)).toBe('http://127.0.0.1:8080');
    expect(serverUrl('::', 8080)).toBe('http://[::1]:8080');
  });

  it('keeps IPv4 addresses and host names as they are', () => {
    expect(serverUrl('127.0.0.1', 8080)).toBe('http://127.0.0.1:8080');
    expect(serverUrl('localhost', 8080)).toBe('http://localhost:8080');
  });

  it('logs a usable URL when listening on ::1', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
    const config = parseServerConfig({ PORT: '0', HOST: '::1', SEED_DATASET: 'none', LOG_LEVEL: 'info' });
    const server = await startServer('ingest', config, { logger: createLogger({ level: 'info', service: 'http-server-test' }, destination) });
    try {
      const address = server.app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      expect(server.url).toBe(`http://[::1]:${port}`);
      expect(lines.find((line) => line.msg === 'server ready')?.url).toBe(`http://[::1]:${port}`);
      expect(new URL(server.url).hostname).toBe('[::1]');
    } finally {
      await server.close();
    }
  });
});
