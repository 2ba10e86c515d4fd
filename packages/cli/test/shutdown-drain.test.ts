import { keys } from '@nexttap/features';
import { createLogger } from '@nexttap/observability';
import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { parseServerConfig, startServer, type RunningServer } from '../src/index';

const KEY_PREFIX = 'drain:';
/** The collector's limit of events per request. */
const EVENTS_PER_REQUEST = 500;

let redis: RedisServer | undefined;
let client: Redis | undefined;
let server: RunningServer | undefined;

afterEach(async () => {
  await server?.close();
  client?.disconnect();
  await redis?.stop();
  server = undefined;
  client = undefined;
  redis = undefined;
});

/** Starts an ingest process on the in-process bus and the private Redis, logging into `lines`. */
async function startIngest(redisUrl: string, lines: Array<Record<string, unknown>>, shutdownTimeoutMs = 10_000): Promise<RunningServer> {
  const config = parseServerConfig({
    PORT: '0',
    KAFKA_BROKERS: '',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: KEY_PREFIX,
    SEED_DATASET: 'none',
    SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
    LOG_LEVEL: 'info',
  });
  const destination = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
  return startServer('ingest', config, { logger: createLogger({ level: 'info', service: 'shutdown-drain' }, destination) });
}

/** Posts `count` events in requests of 500 and returns the ids of the accepted ones with their session. */
async function postEvents(running: RunningServer, count: number): Promise<Array<{ sessionId: string; eventId: string }>> {
  const runId = uniqueName('run');
  const events = Array.from({ length: count }, (_, index) => ({
    eventId: `${runId}-${index}`,
    type: 'tap',
    ts: Date.now() - 1_000,
    sessionId: `${runId}-session-${index % 50}`,
    itemId: `item-${index % 20}`,
  }));
  for (let start = 0; start < events.length; start += EVENTS_PER_REQUEST) {
    const response = await running.app.inject({ method: 'POST', url: '/v1/events', payload: { events: events.slice(start, start + EVENTS_PER_REQUEST) } });
    expect(response.statusCode).toBe(202);
    expect(response.json().rejected).toEqual([]);
  }
  return events.map(({ sessionId, eventId }) => ({ sessionId, eventId }));
}

describe('server shutdown on the in-process bus', () => {
  it('applies every acknowledged event before it stops', async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url);
    const lines: Array<Record<string, unknown>> = [];
    server = await startIngest(redis.url, lines);
    const accepted = await postEvents(server, 5_000);

    // Closed right after the last acknowledgement, with most events still in the bus's log.
    expect(await server.close()).toBe('stopped');

    const dedupKeys = accepted.map(({ sessionId, eventId }) => `${KEY_PREFIX}${keys.dedup(sessionId, eventId)}`);
    const existing = await client.exists(...dedupKeys);
    expect(existing).toBe(accepted.length);
    expect(lines.find((line) => line.msg === 'consumer drained')?.drainedRecords).toBeGreaterThan(0);
    expect(lines.filter((line) => line.msg === 'drain aborted before every record was committed')).toEqual([]);
  });

  it('reports the records left when the drain times out', async () => {
    redis = await startRedisServer();
    const lines: Array<Record<string, unknown>> = [];
    server = await startIngest(redis.url, lines, 300);
    // Without Redis the ingest store waits for it, so no batch can be applied.
    await redis.stop();
    const accepted = await postEvents(server, 1_000);

    expect(await server.close()).toBe('timed-out');

    const warning = lines.find((line) => line.msg === 'drain aborted before every record was committed');
    expect(warning?.level).toBe(40);
    expect(warning?.uncommittedRecords).toBe(accepted.length);
    expect(lines.filter((line) => line.msg === 'shutdown timed out; exiting with work in flight')).toHaveLength(1);
  });
});
