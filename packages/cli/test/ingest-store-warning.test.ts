import { createLogger } from '@nexttap/observability';
import { startRedisServer, type RedisServer } from '@nexttap/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerConfig, startServer, type Role } from '../src/index';

const WARNING = 'ingest without REDIS_URL writes features to an in-memory store that no ranker process can read';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis.stop();
});

/** Starts and stops `role` with `settings` and returns its warn lines. */
async function warningsOf(role: Role, settings: Record<string, string>): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
  const config = parseServerConfig({ PORT: '0', HOST: '127.0.0.1', KAFKA_BROKERS: '', REDIS_URL: '', SEED_DATASET: 'none', ...settings });
  const server = await startServer(role, config, { logger: createLogger({ level: 'warn', service: 'ingest-store-warning-test' }, destination) });
  await server.close();
  return lines;
}

describe('ingest start without Redis', () => {
  it('warns once and names REDIS_URL', async () => {
    const warnings = (await warningsOf('ingest', {})).filter((line) => line.msg === WARNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.setting).toBe('REDIS_URL');
    expect(warnings[0]?.hint).toContain('set REDIS_URL');
  });

  it('stays quiet with REDIS_URL', async () => {
    const messages = (await warningsOf('ingest', { REDIS_URL: redis.url })).map((line) => line.msg);
    expect(messages).not.toContain(WARNING);
  });

  it('stays quiet for all roles in one process', async () => {
    const messages = (await warningsOf('all', {})).map((line) => line.msg);
    expect(messages).not.toContain(WARNING);
  });
});
