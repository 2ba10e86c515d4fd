import { spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { ConfigError, parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { createLogger } from '@nexttap/observability';
import { startMockKafka, startRedisServer, uniqueName, type MockKafka, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_DIR } from './feed-scenario';

const logger = createLogger({ level: 'silent', service: 'security' });
const REPOSITORY_ROOT = new URL('..', import.meta.url).pathname;

function embeddedConfig(overrides: Record<string, string> = {}) {
  return parseServerConfig({ PORT: '0', SEED_DATASET: 'none', LOG_LEVEL: 'silent', MODEL_DIR, ...overrides });
}

function postJson(server: RunningServer, url: string, payload: string, headers: Record<string, string> = {}) {
  return server.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload });
}

function interaction(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { eventId: uniqueName('event'), type: 'tap', ts: Date.now() - 1_000, sessionId: 'session-1', itemId: 'item-1', ...overrides };
}

describe('body size limits', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer('all', embeddedConfig({ COLLECTOR_BODY_LIMIT_BYTES: '65536', RANKER_BODY_LIMIT_BYTES: '16384' }), { logger });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('rejects a collector body over its limit with 413', async () => {
    const events = Array.from({ length: 300 }, () => interaction({ context: { note: 'x'.repeat(200) } }));
    const response = await postJson(server, '/v1/events', JSON.stringify({ events }));
    expect(response.statusCode).toBe(413);
    expect(response.json().error.code).toBe('INGEST_ERR_BODY_TOO_LARGE');
    expect(response.json().error.message).toContain('limit of 65536 bytes');
  });

  it('rejects a feed body over the ranker limit with 413', async () => {
    const exclude = Array.from({ length: 1_000 }, (_, index) => `excluded-item-${index}`);
    const payload = JSON.stringify({ sessionId: 'session-1', exclude });
    expect(payload.length).toBeGreaterThan(16_384);
    expect(payload.length).toBeLessThan(65_536);
    const response = await postJson(server, '/v1/feed', payload);
    expect(response.statusCode).toBe(413);
    expect(response.json().error.code).toBe('RANKER_ERR_BODY_TOO_LARGE');
    expect(response.json().error.message).toContain('limit of 16384 bytes');
  });

  it('accepts bodies under the limits', async () => {
    expect((await postJson(server, '/v1/events', JSON.stringify({ events: [interaction()] }))).statusCode).toBe(202);
    expect((await postJson(server, '/v1/feed', JSON.stringify({ sessionId: 'session-1' }))).statusCode).toBe(200);
  });

  it('applies the ranker limit in the ranker role', async () => {
    const ranker = await startServer('ranker', embeddedConfig(), { logger });
    try {
      const exclude = Array.from({ length: 1_000 }, (_, index) => `${'x'.repeat(600)}-${index}`);
      const response = await postJson(ranker, '/v1/feed', JSON.stringify({ sessionId: 'session-1', exclude }));
      expect(response.statusCode).toBe(413);
      expect(response.json().error.code).toBe('RANKER_ERR_BODY_TOO_LARGE');
    } finally {
      await ranker.close();
    }
  });

  it('accepts a feed body at every documented maximum in the ranker role', async () => {
    const ranker = await startServer('ranker', embeddedConfig(), { logger });
    try {
      const longId = (prefix: string, index: number) => `${prefix}-${index}-`.padEnd(128, 'x');
      const body = {
        sessionId: longId('session', 0),
        userId: longId('user', 0),
        limit: 100,
        candidates: Array.from({ length: 1_000 }, (_, index) => longId('candidate', index)),
        exclude: Array.from({ length: 1_000 }, (_, index) => longId('excluded', index)),
        explain: true,
      };
      const payload = JSON.stringify(body, undefined, 2);
      expect(payload.length).toBeGreaterThan(262_144);
      const response = await postJson(ranker, '/v1/feed', payload);
      expect(response.statusCode, response.body).toBe(200);
    } finally {
      await ranker.close();
    }
  });
});

describe('id and string bounds', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer('all', embeddedConfig(), { logger });
  });

  afterAll(async () => {
    await server?.close();
  });

  const eventCases: Array<{ name: string; overrides: Record<string, unknown>; code: string; field: string | undefined }> = [
    { name: 'an eventId of 129 characters', overrides: { eventId: 'e'.repeat(129) }, code: 'EVENT_INVALID_FIELD', field: 'eventId' },
    { name: 'a sessionId of 129 characters', overrides: { sessionId: 's'.repeat(129) }, code: 'EVENT_INVALID_FIELD', field: 'sessionId' },
    { name: 'an itemId of 129 characters', overrides: { itemId: 'i'.repeat(129) }, code: 'EVENT_INVALID_FIELD', field: 'itemId' },
    { name: 'a userId of 129 characters', overrides: { userId: 'u'.repeat(129) }, code: 'EVENT_INVALID_FIELD', field: 'userId' },
    { name: 'a feedId of 129 characters', overrides: { feedId: 'f'.repeat(129) }, code: 'EVENT_INVALID_FIELD', field: 'feedId' },
    { name: 'a sessionId with a trailing space', overrides: { sessionId: 's ' }, code: 'EVENT_INVALID_FIELD', field: 'sessionId' },
    { name: 'a context value of 257 characters', overrides: { context: { note: 'v'.repeat(257) } }, code: 'EVENT_INVALID_FIELD', field: 'context.note' },
    { name: 'a context key of 65 characters', overrides: { context: { ['k'.repeat(65)]: 1 } }, code: 'EVENT_INVALID_FIELD', field: 'context' },
    { name: 'a context of 33 keys', overrides: { context: Object.fromEntries(Array.from({ length: 33 }, (_, index) => [`k${index}`, index])) }, code: 'EVENT_INVALID_FIELD', field: 'context' },
        // Each field is within its bounds, but 32 values of 256 three-byte characters make 24 KB of UTF-8.
    { name: 'a size over 16 KB', overrides: { context: Object.fromEntries(Array.from({ length: 32 }, (_, index) => [`key${index}`, '€'.repeat(256)])) }, code: 'EVENT_TOO_LARGE', field: undefined },
  ];

  for (const testCase of eventCases) {
    it(`rejects an event with ${testCase.name}`, async () => {
      const response = await postJson(server, '/v1/events', JSON.stringify({ events: [interaction(testCase.overrides)] }));
      expect(response.statusCode).toBe(400);
      const [rejection] = response.json().rejected;
      expect(rejection.code).toBe(testCase.code);
      expect(rejection.field).toBe(testCase.field);
    });
  }

  it('accepts ids of exactly 128 characters', async () => {
    const response = await postJson(server, '/v1/events', JSON.stringify({ events: [interaction({ eventId: 'e'.repeat(128), sessionId: 's'.repeat(128), itemId: 'i'.repeat(128) })] }));
    expect(response.statusCode).toBe(202);
  });

  const catalogCases: Array<{ name: string; item: Record<string, unknown>; field: string }> = [
    { name: 'an itemId of 129 characters', item: { itemId: 'i'.repeat(129), categories: [] }, field: 'itemId' },
    { name: 'an itemId with a leading space', item: { itemId: ' item-1', categories: [] }, field: 'itemId' },
    { name: 'a title of 513 characters', item: { itemId: 'item-1', categories: [], title: 't'.repeat(513) }, field: 'title' },
    { name: '17 categories', item: { itemId: 'item-1', categories: Array.from({ length: 17 }, (_, index) => `c${index}`) }, field: 'categories' },
    { name: '65 tags', item: { itemId: 'item-1', categories: [], tags: Array.from({ length: 65 }, (_, index) => `t${index}`) }, field: 'tags' },
  ];

  for (const testCase of catalogCases) {
    it(`rejects a catalog item with ${testCase.name}`, async () => {
      const response = await postJson(server, '/v1/catalog', JSON.stringify({ items: [testCase.item] }));
      expect(response.statusCode).toBe(400);
      expect(response.json().rejected[0].field).toBe(testCase.field);
    });
  }

  const feedCases: Array<{ name: string; body: Record<string, unknown>; field: string }> = [
    { name: 'a sessionId of 129 characters', body: { sessionId: 's'.repeat(129) }, field: 'sessionId' },
    { name: 'a candidate with a trailing space', body: { sessionId: 's', candidates: ['a', 'b '] }, field: 'candidates.1' },
    { name: '1,001 candidates', body: { sessionId: 's', candidates: Array.from({ length: 1_001 }, (_, index) => String(index)) }, field: 'candidates' },
    { name: '1,001 excluded items', body: { sessionId: 's', exclude: Array.from({ length: 1_001 }, (_, index) => String(index)) }, field: 'exclude' },
    { name: 'a cursor of 257 characters', body: { sessionId: 's', cursor: 'c'.repeat(257) }, field: 'cursor' },
    { name: 'a limit of 101', body: { sessionId: 's', limit: 101 }, field: 'limit' },
  ];

  for (const testCase of feedCases) {
    it(`rejects a feed request with ${testCase.name}`, async () => {
      const response = await postJson(server, '/v1/feed', JSON.stringify(testCase.body));
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toMatchObject({ code: 'RANKER_ERR_INVALID_REQUEST', field: testCase.field });
    });
  }

  it('rejects more than 500 events in one request', async () => {
    const events = Array.from({ length: 501 }, () => interaction());
    const response = await postJson(server, '/v1/events', JSON.stringify({ events }));
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'INGEST_ERR_INVALID_REQUEST', field: 'events' });
    expect(response.json().error.message).toMatch(/^events has more than 500 entries; split it into requests of at most 500 events \(received /);
  });
});

describe('request ids', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer('all', embeddedConfig(), { logger });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('echoes a client id on collector replies', async () => {
    const accepted = await postJson(server, '/v1/events', JSON.stringify({ events: [interaction()] }), { 'x-request-id': 'client-id-1' });
    const rejected = await postJson(server, '/v1/events', '{"events":', { 'x-request-id': 'client-id-2' });
    expect(accepted.statusCode).toBe(202);
    expect(accepted.headers['x-request-id']).toBe('client-id-1');
    expect(rejected.statusCode).toBe(400);
    expect(rejected.headers['x-request-id']).toBe('client-id-2');
  });

  it('generates an id when the client sends none', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/healthz' });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces an overlong or unprintable client id', async () => {
    const overlong = await postJson(server, '/v1/feed', JSON.stringify({ sessionId: 's' }), { 'x-request-id': 'r'.repeat(129) });
    const unprintable = await postJson(server, '/v1/feed', JSON.stringify({ sessionId: 's' }), { 'x-request-id': 'id with spaces' });
    expect(overlong.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(unprintable.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a client id of 128 characters', async () => {
    const response = await postJson(server, '/v1/feed', JSON.stringify({ sessionId: 's' }), { 'x-request-id': 'r'.repeat(128) });
    expect(response.headers['x-request-id']).toBe('r'.repeat(128));
  });
});

describe('CORS', () => {
  const preflight = { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' };

  it('sends no CORS headers by default', async () => {
    const server = await startServer('all', embeddedConfig(), { logger });
    try {
      const options = await server.app.inject({ method: 'OPTIONS', url: '/v1/feed', headers: preflight });
      expect(options.statusCode).toBe(404);
      expect(options.headers['access-control-allow-origin']).toBeUndefined();
      const feed = await postJson(server, '/v1/feed', JSON.stringify({ sessionId: 's' }), { origin: 'https://app.example.com' });
      expect(feed.statusCode).toBe(200);
      expect(feed.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('allows only the configured origins', async () => {
    const server = await startServer('all', embeddedConfig({ CORS_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:3000' }), { logger });
    try {
      const options = await server.app.inject({ method: 'OPTIONS', url: '/v1/feed', headers: preflight });
      expect(options.statusCode).toBe(204);
      expect(options.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(options.headers['access-control-allow-methods']).toBe('GET, HEAD, POST');
      const allowed = await postJson(server, '/v1/feed', JSON.stringify({ sessionId: 's' }), { origin: 'http://localhost:3000' });
      expect(allowed.headers['access-control-allow-origin']).toBe('http://localhost:3000');
      expect(allowed.headers['access-control-expose-headers']).toBe('x-request-id, retry-after');
      const other = await postJson(server, '/v1/feed', JSON.stringify({ sessionId: 's' }), { origin: 'https://evil.example' });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      expect(other.headers['access-control-allow-credentials']).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('rejects an origin with a path in the configuration', () => {
    expect(() => embeddedConfig({ CORS_ALLOWED_ORIGINS: 'https://app.example.com/feed' })).toThrow(ConfigError);
    expect(() => embeddedConfig({ CORS_ALLOWED_ORIGINS: 'https://app.example.com/feed' })).toThrow(/CORS_ALLOWED_ORIGINS=.*is not an origin/);
  });
});

describe('outbound connections', () => {
  let redis: RedisServer;
  let kafka: MockKafka;

  beforeAll(async () => {
    [redis, kafka] = await Promise.all([startRedisServer(), startMockKafka()]);
  });

  afterAll(async () => {
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  it('go only to the configured Redis and Kafka', async () => {
    const sockets: Socket[] = [];
    const onSocket = (message: unknown) => {
      sockets.push((message as { socket: Socket }).socket);
    };
    const lookups: string[] = [];
    subscribe('net.client.socket', onSocket);
    const prefix = uniqueName('outbound');
    const server = await startServer(
      'all',
      embeddedConfig({ KAFKA_BROKERS: kafka.brokers.join(','), REDIS_URL: redis.url, TOPIC_PREFIX: prefix, INGEST_CONSUMER_GROUP: prefix }),
      { logger },
    );
    try {
      for (const socket of sockets) {
        socket.on('lookup', (_error, _address, _family, host) => lookups.push(String(host)));
      }
      expect((await postJson(server, '/v1/events', JSON.stringify({ events: [interaction()] }))).statusCode).toBe(202);
      expect((await postJson(server, '/v1/feed', JSON.stringify({ sessionId: 'session-1' }))).statusCode).toBe(200);
      expect((await server.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    } finally {
      await server.close();
      unsubscribe('net.client.socket', onSocket);
    }

    const allowedPorts = new Set([redis.port, ...kafka.brokers.map((broker) => Number(broker.split(':').at(-1)))]);
    expect(sockets.length).toBeGreaterThan(0);
    for (const socket of sockets) {
      expect(socket.remoteAddress ?? '127.0.0.1').toBe('127.0.0.1');
      if (socket.remotePort !== undefined) {
        expect(allowedPorts.has(socket.remotePort), `connection to port ${socket.remotePort}`).toBe(true);
      }
    }
    expect(lookups.filter((host) => host !== '127.0.0.1' && host !== 'localhost')).toEqual([]);
  });
});

describe('secrets in logs', () => {
  const password = `pw-${uniqueName('secret')}`;
  const bearerToken = `token-${uniqueName('secret')}`;
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
    const admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', password);
    admin.disconnect();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  /** Runs `nexttap serve` with debug logs and returns everything it wrote; `whileRunning` gets its URL. */
  async function runServe(redisPassword: string, whileRunning: (url: string, output: () => string) => Promise<void>): Promise<{ output: string; exitCode: number | null }> {
    const child = spawn(process.execPath, ['packages/cli/bin/nexttap.js', 'serve', '--role', 'all'], {
      cwd: REPOSITORY_ROOT,
      env: {
        ...process.env,
        PORT: '0',
        LOG_LEVEL: 'debug',
        SEED_DATASET: 'none',
        REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${redis.port}/0`,
        ADMIN_TOKEN: bearerToken,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const ready = new Promise<string | undefined>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const line = output.split('\n').find((text) => text.includes('"msg":"server ready"'));
        if (line !== undefined) {
          resolve(JSON.parse(line).url);
        }
      });
      child.on('exit', () => resolve(undefined));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await ready;
    if (url !== undefined) {
      await whileRunning(url, () => output);
      child.kill('SIGTERM');
    }
    const exitCode = await exited;
    return { output, exitCode };
  }

  it('keeps the Redis password and bearer tokens out of a running server log', async () => {
    const { output, exitCode } = await runServe(password, async (url, currentOutput) => {
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${bearerToken}`, cookie: `session=${bearerToken}` };
      // The admin token is the one the server was started with, so these requests pass the check.
      expect((await fetch(`${url}/v1/admin/models`, { headers })).status).toBe(200);
      const wrongToken = { authorization: `Bearer wrong-${bearerToken}` };
      expect((await fetch(`${url}/v1/admin/models`, { headers: wrongToken })).status).toBe(401);
      await fetch(`${url}/v1/events`, { method: 'POST', headers, body: JSON.stringify({ events: [interaction()] }) });
      await fetch(`${url}/v1/events`, { method: 'POST', headers, body: '{"events": [' });
      await fetch(`${url}/v1/feed`, { method: 'POST', headers, body: JSON.stringify({ sessionId: 'session-1' }) });
      // With another password set and the connections cut, every client fails AUTH on reconnecting
      // and logs the reply error, the path on which ioredis attaches the command's arguments.
      const admin = new Redis(`redis://:${password}@127.0.0.1:${redis.port}/0`);
      await admin.config('SET', 'requirepass', `other-${password}`);
      await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await expect.poll(() => currentOutput().includes('WRONGPASS'), { timeout: 10_000 }).toBe(true);
      await admin.config('SET', 'requirepass', password);
      admin.disconnect();
      await fetch(`${url}/v1/feed`, { method: 'POST', headers, body: JSON.stringify({ sessionId: 'session-1' }) });
    });
    expect(exitCode).toBe(0);
    expect(output).toContain('"msg":"server ready"');
    expect(output).toContain('"msg":"redis connection error"');
    expect(output).not.toContain(password);
    expect(output).not.toContain(bearerToken);
  });

  it('keeps a wrong Redis password out of the failed start log', async () => {
    const wrongPassword = `wrong-${uniqueName('secret')}`;
    const { output, exitCode } = await runServe(wrongPassword, async () => {});
    expect(exitCode).toBe(1);
    expect(output).toContain('WRONGPASS');
    expect(output).toContain('"msg":"server start failed"');
    expect(output).not.toContain(wrongPassword);
  });
});
