import { createServer, type Server } from 'node:net';
import { BusError } from '@nexttap/bus';
import { createLogger } from '@nexttap/observability';
import { afterEach, describe, expect, it } from 'vitest';
import { parseServerConfig, startServer, type Role } from '../src/index';

const REPOSITORY_ROOT = new URL('../../..', import.meta.url).pathname;
const SEEDED = 'movielens history loaded';

let occupied: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (occupied === undefined ? resolve(undefined) : occupied.close(resolve)));
  occupied = undefined;
});

/** Starts `role` with the MovieLens seed and `settings`, and returns the start error and the log messages. */
async function failedStart(role: Role, settings: Record<string, string>): Promise<{ error: unknown; messages: string[] }> {
  const messages: string[] = [];
  const destination = { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) };
  const config = parseServerConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    SEED_DATASET: 'movielens',
    MOVIELENS_DIR: `${REPOSITORY_ROOT}data/movielens`,
    MODEL_DIR: `${REPOSITORY_ROOT}models/movielens-mlp/1`,
    ...settings,
  });
  const logger = createLogger({ level: 'info', service: 'start-order-test' }, destination);
  const error = await startServer(role, config, { logger }).then(
    async (server) => {
      await server.close();
      return undefined;
    },
    (startError: unknown) => startError,
  );
  return { error, messages };
}

describe('server start checks before the seed', () => {
  it('rejects a missing MODEL_DIR before seeding', async () => {
    const { error, messages } = await failedStart('ranker', { MODEL_DIR: '/nonexistent/model' });
    expect((error as Error | undefined)?.name).toBe('ModelValidationError');
    expect(messages).not.toContain(SEEDED);
  }, 60_000);

  it('rejects a port in use before seeding', async () => {
    occupied = createServer();
    const port = await new Promise<number>((resolve) => occupied?.listen(0, '127.0.0.1', () => resolve((occupied?.address() as { port: number }).port)));
    const { error, messages } = await failedStart('ingest', { PORT: String(port) });
    expect((error as { code?: unknown } | undefined)?.code).toBe('EADDRINUSE');
    expect(messages).not.toContain(SEEDED);
  }, 60_000);

  it('rejects unreachable Kafka brokers before seeding', async () => {
    // Nothing listens on port 1 of the loopback address, so every connection is refused at once.
    const { error, messages } = await failedStart('ingest', { KAFKA_BROKERS: '127.0.0.1:1' });
    expect(error).toBeInstanceOf(BusError);
    expect((error as BusError).code).toBe('BUS_ERR_CONNECT_FAILED');
    expect((error as BusError).message).toContain('127.0.0.1:1');
    expect(messages).not.toContain(SEEDED);
  }, 60_000);

  it('listens before seeding', async () => {
    const { error, messages } = await failedStart('ranker', {});
    expect(error).toBeUndefined();
    expect(messages.indexOf('server listening')).toBeGreaterThanOrEqual(0);
    expect(messages.indexOf('server listening')).toBeLessThan(messages.indexOf(SEEDED));
    expect(messages.indexOf(SEEDED)).toBeLessThan(messages.indexOf('server ready'));
  }, 60_000);
});
