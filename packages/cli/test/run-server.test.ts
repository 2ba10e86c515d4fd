import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { keys } from '@nexttap/features';
import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BusError } from '@nexttap/bus';
import { EXIT_SHUTDOWN_INCOMPLETE, parseServerConfig, settingFailureHint, startFailureHint } from '../src/index';

const REPOSITORY_ROOT = new URL('../../..', import.meta.url).pathname;
/** How long the private Redis pauses every command, in ms. The test sends its signals within it. */
const REDIS_PAUSE_MS = 3_000;

interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  /** The exit code, or the name of the signal that ended the process. */
  exited: Promise<number | NodeJS.Signals | null>;
}

let running: ServeProcess | undefined;
let socket: Socket | undefined;
const connections: RawConnection[] = [];
let redis: RedisServer | undefined;
let redisClient: Redis | undefined;

afterEach(async () => {
  socket?.destroy();
  for (const connection of connections.splice(0)) {
    connection.socket.destroy();
  }
  running?.child.kill('SIGKILL');
  running = undefined;
  redisClient?.disconnect();
  redisClient = undefined;
  await redis?.stop();
  redis = undefined;
});

/** Starts `nexttap serve --role ingest` on the embedded defaults with `environment` added. */
function startServe(environment: Record<string, string>): ServeProcess {
  const child = spawn(process.execPath, ['packages/cli/bin/nexttap.js', 'serve', '--role', 'ingest'], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, PORT: '0', SEED_DATASET: 'none', LOG_LEVEL: 'info', KAFKA_BROKERS: '', REDIS_URL: '', ...environment },
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  running = { child, output: () => output, exited };
  return running;
}

function logLines(output: string): Array<Record<string, unknown>> {
  return output.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

async function waitForUrl(serve: ServeProcess): Promise<URL> {
  let url: string | undefined;
  await expect
    .poll(() => (url = logLines(serve.output()).find((line) => line.msg === 'server ready')?.url as string | undefined), { timeout: 30_000 })
    .toBeDefined();
  return new URL(url as string);
}

/**
 * Opens a request whose body never arrives. `Expect: 100-continue` makes the server confirm that
 * it parsed the headers, so the request is in flight, not an idle connection, when this resolves.
 */
async function openStalledRequest(url: URL): Promise<Socket> {
  const connection = connect(Number(url.port), url.hostname);
  let received = '';
  connection.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  connection.write(
    'POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n',
  );
  await expect.poll(() => received, { timeout: 15_000 }).toContain('100 Continue');
  connection.write('{"events": [');
  return connection;
}

interface RawConnection {
  socket: Socket;
  received(): string;
  closed(): boolean;
}

/** Opens a TCP connection to `url` that keeps what it receives, without speaking HTTP itself. */
function openConnection(url: URL): RawConnection {
  const connection = connect(Number(url.port), url.hostname);
  let received = '';
  let closed = false;
  connection.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  connection.on('close', () => (closed = true));
  connection.on('error', () => undefined);
  const raw = { socket: connection, received: () => received, closed: () => closed };
  connections.push(raw);
  return raw;
}

describe('nexttap serve shutdown', () => {
  it('exits with code 0 after a complete shutdown', async () => {
    const serve = startServe({});
    await waitForUrl(serve);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const lines = logLines(serve.output());
    expect(lines.filter((line) => line.msg === 'server stopped')).toHaveLength(1);
    expect(lines.find((line) => line.msg === 'process exiting')?.exitCode).toBe(0);
  });

  it('exits non-zero when the shutdown times out', async () => {
    const serve = startServe({ SHUTDOWN_TIMEOUT_MS: '300' });
    socket = await openStalledRequest(await waitForUrl(serve));
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(EXIT_SHUTDOWN_INCOMPLETE);
    expect(EXIT_SHUTDOWN_INCOMPLETE).not.toBe(0);
    const lines = logLines(serve.output());
    expect(lines.filter((line) => line.msg === 'shutdown timed out; exiting with work in flight')).toHaveLength(1);
    expect(lines.filter((line) => line.msg === 'server stopped')).toHaveLength(0);
    const exiting = lines.find((line) => line.msg === 'process exiting after an incomplete shutdown');
    expect(exiting?.exitCode).toBe(EXIT_SHUTDOWN_INCOMPLETE);
    expect(exiting?.outcome).toBe('timed-out');
  });
});

describe('nexttap serve connections at shutdown', () => {
  it('closes idle ones and rejects late requests', async () => {
    const serve = startServe({ SHUTDOWN_TIMEOUT_MS: '10000' });
    const url = await waitForUrl(serve);
    // The request in flight keeps the server draining while the other connections are checked.
    socket = await openStalledRequest(url);
    let inFlightReply = '';
    socket.on('data', (chunk: string) => (inFlightReply += chunk));
    const partial = openConnection(url);
    partial.socket.write('GET /v1/openapi.json HTTP/1.1\r\nHost: localhost\r\n');
    // The server accepts connections in the order they arrive, so once the later one has its reply
    // the partial one is accepted too. A connection still in the listen backlog is reset by close().
    const idle = openConnection(url);
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await expect.poll(() => idle.received()).toMatch(/^HTTP\/1\.1 200 /);
    const idleReplies = idle.received();

    serve.child.kill('SIGTERM');
    await expect.poll(() => logLines(serve.output()).some((line) => line.msg === 'server draining')).toBe(true);

    await expect.poll(() => idle.closed()).toBe(true);
    expect(idle.received()).toBe(idleReplies);

    partial.socket.write('\r\n');
    await expect.poll(() => partial.closed()).toBe(true);
    expect(partial.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(partial.received()).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(partial.received()).toMatch(/\r\nconnection: close\r\n/i);
    expect(partial.received()).toContain('HTTP_ERR_SHUTTING_DOWN');

    // The rest of the stalled body: 1,000 bytes in all, a batch without events.
    socket.write(']}'.padEnd(1000 - '{"events": ['.length, ' '));
    await expect.poll(() => inFlightReply).toMatch(/^HTTP\/1\.1 400 /);
    expect(inFlightReply).toMatch(/\r\nconnection: close\r\n/i);
    expect(await serve.exited).toBe(0);
  });
});

describe('nexttap serve repeated signals', () => {
  it('finishes the drain after a second signal', async () => {
    redis = await startRedisServer();
    redisClient = new Redis(redis.url);
    const serve = startServe({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'signals:', SHUTDOWN_TIMEOUT_MS: '10000' });
    const url = await waitForUrl(serve);

    // Every Redis command waits for the pause, so the consumer is still applying the event when
    // the signals arrive, as with a slow or stalled Redis.
    await redisClient.call('CLIENT', 'PAUSE', String(REDIS_PAUSE_MS), 'ALL');
    const sessionId = uniqueName('session');
    const eventId = uniqueName('event');
    const response = await fetch(new URL('/v1/events', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ eventId, type: 'tap', ts: Date.now() - 1_000, sessionId, itemId: 'item-1' }] }),
    });
    expect(response.status).toBe(202);

    // The pair that one Ctrl-C under `npm start` delivers, then a SIGTERM from a supervisor.
    serve.child.kill('SIGINT');
    await expect.poll(() => logLines(serve.output()).some((line) => line.msg === 'server draining')).toBe(true);
    serve.child.kill('SIGINT');
    serve.child.kill('SIGTERM');

    expect(await serve.exited).toBe(0);
    const lines = logLines(serve.output());
    const ignored = lines.filter((line) => line.msg === 'shutdown already in progress; signal ignored');
    // Node may run the handlers of two pending signals in either order.
    expect(ignored.map((line) => line.signal).sort()).toEqual(['SIGINT', 'SIGTERM']);
    expect(ignored[0]?.remainingMs).toBeGreaterThan(0);
    expect(ignored[0]?.remainingMs).toBeLessThanOrEqual(10_000);
    expect(lines.filter((line) => line.msg === 'shutdown requested')).toHaveLength(1);
    expect(lines.find((line) => line.msg === 'consumer drained')?.drainedRecords).toBe(1);
    expect(await redisClient.exists(`signals:${keys.dedup(sessionId, eventId)}`)).toBe(1);
  });
});

describe('nexttap serve configuration', () => {
  it('exits with code 2 naming each invalid Kafka setting', async () => {
    const serve = startServe({ KAFKA_BROKERS: 'nohostport,127.0.0.1:99999', TOPIC_PREFIX: 'bad topic!' });
    expect(await serve.exited).toBe(2);
    const output = serve.output();
    expect(output).toContain('nexttap: invalid configuration:');
    expect(output).toContain('KAFKA_BROKERS="nohostport,127.0.0.1:99999": broker "nohostport" is not a host:port address');
    expect(output).toContain('KAFKA_BROKERS="nohostport,127.0.0.1:99999": broker "127.0.0.1:99999" has port 99999');
    expect(output).toContain('TOPIC_PREFIX="bad topic!": contains " ", "!"');
    expect(output).not.toContain('server start failed');
  });
});

describe('nexttap serve with an unusable Redis', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis.stop();
  });

  /** Returns the lines of `output` that the process wrote as plain text, not as JSON log lines. */
  function plainLines(output: string): string[] {
    return output.split('\n').filter((line) => line !== '' && !line.startsWith('{'));
  }

  it('exits with code 2 for a database that is not a number', async () => {
    const url = `${redis.url}/abc`;
    const serve = startServe({ REDIS_URL: url });
    expect(await serve.exited).toBe(2);

    const output = serve.output();
    expect(plainLines(output)).toEqual([
      'nexttap: invalid configuration:',
      `  REDIS_URL="${url}": has the database "abc" in its path, which is not a whole number; ` +
        'write the database number in plain digits, such as redis://127.0.0.1:6379/0, or leave the path out for database 0',
    ]);
    expect(logLines(output)).toEqual([]);
  });

  it('names the database that the server rejects', async () => {
    const url = `${redis.url}/99`;
    const serve = startServe({ REDIS_URL: url });
    expect(await serve.exited).toBe(1);

    const output = serve.output();
    expect(plainLines(output)).toEqual([
      `nexttap: REDIS_URL=${url}: Redis rejected database 99 (ERR DB index is out of range) because the server has 16 databases, 0 to 15; ` +
        'set REDIS_URL to one of them, or raise the databases setting of the server (redis.conf) and restart it',
    ]);
    const messages = logLines(output).map((line) => line.msg);
    expect(messages).toContain('server start failed');
    expect(messages).not.toContain('server starting');
    expect(messages).not.toContain('redis connection restored');
    const client = new Redis(redis.url);
    try {
      expect(await client.dbsize()).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('names a wrong password without showing it', async () => {
    const serve = startServe({ REDIS_URL: `redis://nobody:hunter2@127.0.0.1:${redis.port}/0` });
    expect(await serve.exited).toBe(1);

    const output = serve.output();
    expect(plainLines(output)).toEqual([
      `nexttap: REDIS_URL=redis://nobody:[redacted]@127.0.0.1:${redis.port}/0: authentication failed at 127.0.0.1:${redis.port} ` +
        '(WRONGPASS invalid username-password pair or user is disabled.); ' +
        'put a user and password that the server accepts in REDIS_URL, as redis://user:password@host:port/db, or redis://:password@host:port/db for the default user',
    ]);
    expect(output).not.toContain('hunter2');
  });

  it('names a Redis that refuses connections', async () => {
    const stopped = await startRedisServer();
    await stopped.stop();
    const url = `redis://127.0.0.1:${stopped.port}/0`;
    const serve = startServe({ REDIS_URL: url });
    expect(await serve.exited).toBe(1);

    expect(plainLines(serve.output())).toEqual([
      `nexttap: REDIS_URL=${url}: connection refused at 127.0.0.1:${stopped.port}; start Redis there, ` +
        'or set REDIS_URL to a Redis that accepts connections. Redis must be reachable when the server starts',
    ]);
  });
});

describe('startFailureHint', () => {
  it('names PORT when the port is taken', () => {
    const hint = startFailureHint(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), '127.0.0.1', 8080);
    expect(hint).toBe('port 8080 on 127.0.0.1 is already in use; set PORT to a free port or stop the process that holds it');
  });

  it('names HOST when it does not resolve', () => {
    const hint = startFailureHint(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }), 'not-an-ip', 8080);
    expect(hint).toContain('HOST not-an-ip is not an address of this machine');
  });

  it('gives no hint for other failures', () => {
    expect(startFailureHint(new Error('Connection is closed.'), '127.0.0.1', 8080)).toBeUndefined();
  });
});

describe('settingFailureHint', () => {
  const config = parseServerConfig({ MODEL_DIR: 'models/nope', MOVIELENS_DIR: '/data/ml' });

  it('names MODEL_DIR when the model cannot be read', () => {
    const error = Object.assign(new Error('manifest.json could not be read'), { name: 'ModelValidationError' });
    expect(settingFailureHint(error, config)).toMatch(/^MODEL_DIR=models\/nope is not a usable model folder: manifest.json could not be read\. Set MODEL_DIR/);
  });

  it('names MOVIELENS_DIR and SEED_DATASET when a file is missing', () => {
    const error = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT', path: '/data/ml/movies.csv' });
    expect(settingFailureHint(error, config)).toBe(
      'MOVIELENS_DIR=/data/ml has no movies.csv; set MOVIELENS_DIR to the folder of movies.csv and ratings.csv, or SEED_DATASET=none to start without seed data',
    );
  });

  it('names the Kafka timings when the group join fails', () => {
    const kafkaConfig = parseServerConfig({ KAFKA_BROKERS: '127.0.0.1:9092' });
    const error = new BusError('BUS_ERR_SUBSCRIBE_FAILED', 'consumer group "nexttap-ingest" was not joined within 90000 ms: …');
    expect(settingFailureHint(error, kafkaConfig)).toBe(
      'consumer group "nexttap-ingest" was not joined within 90000 ms: …. Settings: KAFKA_BROKERS=127.0.0.1:9092, KAFKA_SESSION_TIMEOUT_MS=30000, ' +
        'KAFKA_HEARTBEAT_INTERVAL_MS=3000, KAFKA_REBALANCE_TIMEOUT_MS=60000; the join limit is the rebalance timeout plus the session timeout. ' +
        'On the librdkafka mock cluster set KAFKA_SESSION_TIMEOUT_MS=3000 and KAFKA_HEARTBEAT_INTERVAL_MS=1000 (docs/operations.md)',
    );
  });

  it('names KAFKA_BROKERS when no broker accepts a connection', () => {
    const kafkaConfig = parseServerConfig({ KAFKA_BROKERS: '127.0.0.1:1' });
    const error = new BusError('BUS_ERR_CONNECT_FAILED', 'connecting to the Kafka brokers 127.0.0.1:1 failed: Connection error: connect ECONNREFUSED 127.0.0.1:1');
    expect(settingFailureHint(error, kafkaConfig)).toBe(
      'KAFKA_BROKERS=127.0.0.1:1: connecting to the Kafka brokers 127.0.0.1:1 failed: Connection error: connect ECONNREFUSED 127.0.0.1:1; ' +
        'start Kafka there, or set KAFKA_BROKERS to brokers that accept connections, or leave it empty for the in-process bus',
    );
  });

  it('gives no hint for a file elsewhere', () => {
    expect(settingFailureHint(Object.assign(new Error('ENOENT'), { code: 'ENOENT', path: '/etc/other' }), config)).toBeUndefined();
  });
});
