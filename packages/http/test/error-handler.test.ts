import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ApiError, installErrorHandler } from '../src/index';

/** The messages the error handler logs; fastify's own request lines are left out. */
const ERROR_MESSAGES = new Set(['request failed', 'request rejected', 'request refused']);
const CODES = { invalidJson: 'T_INVALID_JSON', bodyTooLarge: 'T_TOO_LARGE', unsupportedMediaType: 'T_MEDIA_TYPE', internal: 'T_INTERNAL' };

/** Serves `error` from GET /fail and returns the reply status and the log lines of the request. */
async function logsOf(error: Error): Promise<{ status: number; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino({ level: 'info' }, sink) as FastifyBaseLogger });
  installErrorHandler(app, CODES);
  app.get('/fail', async () => {
    throw error;
  });
  const response = await app.inject({ method: 'GET', url: '/fail' });
  await app.close();
  return { status: response.statusCode, lines: lines.filter((line) => ERROR_MESSAGES.has(line.msg as string)) };
}

describe('installErrorHandler logging', () => {
  it('logs a deliberate 503 as a warning', async () => {
    const { status, lines } = await logsOf(new ApiError('T_BUSY', 503, 'too many live feeds; retry later', { headers: { 'retry-after': '5' } }));
    expect(status).toBe(503);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'request refused', code: 'T_BUSY' });
    expect(lines[0]?.err).toBeUndefined();
  });

  it('logs the cause of a 503', async () => {
    const cause = new Error('broker connection refused');
    const { lines } = await logsOf(new ApiError('T_BUS', 503, 'the bus did not acknowledge', { cause }));
    expect((lines[0]?.err as { message?: string } | undefined)?.message).toBe('broker connection refused');
  });

  it('logs an unexpected error at error level', async () => {
    const { status, lines } = await logsOf(new Error('boom'));
    expect(status).toBe(500);
    expect(lines[0]).toMatchObject({ level: 50, msg: 'request failed', code: 'T_INTERNAL' });
  });

  it('logs a 4xx at info', async () => {
    const { status, lines } = await logsOf(new ApiError('T_BAD', 400, 'limit is invalid', { field: 'limit' }));
    expect(status).toBe(400);
    expect(lines[0]).toMatchObject({ level: 30, msg: 'request rejected', code: 'T_BAD', field: 'limit' });
  });
});
