import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger } from '@nexttap/observability';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logConnectionErrors } from '../src/index';

/** Returns a logger that keeps the messages it writes, one parsed line each. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', service: 'connection-errors-test' }, destination), lines };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('logConnectionErrors', () => {
  it('logs one error per 10 s and counts the rest', () => {
    vi.useFakeTimers({ now: 0 });
    const { logger, lines } = capturingLogger();
    // The listener only subscribes to the client's events, which an EventEmitter emits the same way.
    const client = new EventEmitter();
    logConnectionErrors(client as unknown as Redis, 'ranker', logger);

    for (let attempt = 0; attempt < 40; attempt++) {
      client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6390'));
      vi.advanceTimersByTime(250);
    }
    client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6390'));

    const errors = lines.filter((line) => line.msg === 'redis connection error');
    expect(errors).toHaveLength(2);
    expect(errors[0]?.suppressedErrors).toBe(0);
    expect(errors[1]?.suppressedErrors).toBe(39);
  });

  it('logs the recovery after errors only', () => {
    const { logger, lines } = capturingLogger();
    const client = new EventEmitter();
    logConnectionErrors(client as unknown as Redis, 'ingest', logger);

    client.emit('ready');
    client.emit('error', new Error('read ECONNRESET'));
    client.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6390'));
    client.emit('ready');

    expect(lines.map((line) => line.msg)).toEqual(['redis connection error', 'redis connection restored']);
    expect(lines[1]).toMatchObject({ role: 'ingest', suppressedErrors: 1 });
  });
});
