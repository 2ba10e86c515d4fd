import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecretsInText } from '../src/index';

const REPOSITORY_ROOT = new URL('../../..', import.meta.url).pathname;
const PASSWORD = 'pw-9f2c71d4';
const TOKEN = 'token-4be6a0c8';

/** Creates a debug-level logger that keeps what it writes. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; output: () => string } {
  let written = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString('utf8');
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', service: 'redaction-test' }, destination), output: () => written };
}

function lastLine(output: string): Record<string, unknown> {
  return JSON.parse(output.trim().split('\n').at(-1) as string) as Record<string, unknown>;
}

describe('createLogger redaction', () => {
  it('replaces credential fields', () => {
    const { logger, output } = capturingLogger();
    logger.info(
      {
        req: { headers: { authorization: `Bearer ${TOKEN}`, cookie: `session=${TOKEN}` } },
        config: { adminToken: TOKEN },
        kafka: { sasl: { mechanism: 'plain', username: 'ingest', password: PASSWORD } },
        password: PASSWORD,
      },
      'settings read',
    );
    expect(output()).not.toContain(TOKEN);
    expect(output()).not.toContain(PASSWORD);
    const line = lastLine(output());
    expect(line.req).toEqual({ headers: { authorization: '[redacted]', cookie: '[redacted]' } });
    expect(line.config).toEqual({ adminToken: '[redacted]' });
    expect(line.kafka).toEqual({ sasl: { mechanism: 'plain', username: 'ingest', password: '[redacted]' } });
  });

  it('masks the password of a URL in any string', () => {
    const { logger, output } = capturingLogger();
    logger.warn({ target: `redis://:${PASSWORD}@127.0.0.1:6379/0` }, 'redis connection error');
    logger.error({ err: new Error(`connect to rediss://ingest:${PASSWORD}@cache.internal:6380 failed`) }, 'store failed');
    expect(output()).not.toContain(PASSWORD);
    expect(output()).toContain('redis://:[redacted]@127.0.0.1:6379/0');
    expect(output()).toContain('rediss://ingest:[redacted]@cache.internal:6380');
  });

  it('masks bearer tokens in any string', () => {
    const { logger, output } = capturingLogger();
    logger.debug({ sent: `GET /v1/admin/models with Authorization: Bearer ${TOKEN}` }, 'admin request sent');
    expect(output()).not.toContain(TOKEN);
    expect(output()).toContain('Bearer [redacted]');
  });

  it('drops the arguments of a failed Redis command', () => {
    const { logger, output } = capturingLogger();
    // The shape ioredis gives a reply error: the failed command with its arguments.
    const error = Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {
      command: { name: 'auth', args: [PASSWORD] },
    });
    logger.error({ err: new Error('store write failed', { cause: error }) }, 'batch failed');
    logger.error({ err: error }, 'redis connection error');
    expect(output()).not.toContain(PASSWORD);
    const line = lastLine(output());
    expect(line.err).toMatchObject({ message: expect.stringContaining('WRONGPASS'), command: { name: 'auth', args: '[redacted]' } });
  });

  it('keeps lines without secrets as they are', () => {
    const { logger, output } = capturingLogger();
    logger.info({ url: 'http://127.0.0.1:8080', brokers: ['127.0.0.1:9092'], note: 'basic setup' }, 'server ready');
    expect(lastLine(output())).toMatchObject({ url: 'http://127.0.0.1:8080', brokers: ['127.0.0.1:9092'], note: 'basic setup', msg: 'server ready' });
  });
});

describe('redactSecretsInText', () => {
  it.each([
    ['redis://:secret@host:6379', 'redis://:[redacted]@host:6379'],
    ['redis://user:p@ss@host:6379/0', 'redis://user:[redacted]@host:6379/0'],
    ['"url":"redis://:a@h:1","other":"x@y"', '"url":"redis://:[redacted]@h:1","other":"x@y"'],
    ['redis://host:6379/0?password=secret&db=1', 'redis://host:6379/0?password=[redacted]&db=1'],
    ['authorization: bearer abc.def-ghi', 'authorization: bearer [redacted]'],
    ['http://host:8080/path@x', 'http://host:8080/path@x'],
    ['mail ops@example.com', 'mail ops@example.com'],
  ])('rewrites %s', (input, expected) => {
    expect(redactSecretsInText(input)).toBe(expected);
  });
});

/**
 * Logs three lines to stdout in a child process while the only thread of libuv's pool
 * (UV_THREADPOOL_SIZE=1) runs a pbkdf2 of 10^6 iterations, then calls process.exit(). An
 * asynchronous destination queues its fs.write behind the pbkdf2, so the lines it has in flight at
 * the exit are written after the others or not at all.
 */
const EXIT_SCRIPT = `
import { pbkdf2 } from 'node:crypto';
import { register } from 'tsx/esm/api';
register();
const { createLogger } = await import('@nexttap/observability');
pbkdf2('password', 'salt', 1000000, 32, 'sha256', () => {});
const logger = createLogger({ level: 'info', service: 'exit-test' });
for (const sequence of [1, 2, 3]) {
  logger.info({ sequence }, 'line before exit');
}
process.exit(0);
`;

describe('createLogger stdout', () => {
  it('writes every line before process.exit', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '--eval', EXIT_SCRIPT], {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
    });
    let output = '';
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
    const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

    expect(errors).toBe('');
    expect(exitCode).toBe(0);
    const sequences = output
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { sequence: number }).sequence);
    expect(sequences).toEqual([1, 2, 3]);
  });
});
