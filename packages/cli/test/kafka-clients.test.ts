import { createLogger } from '@nexttap/observability';
import { startMockKafka, uniqueName, type MockKafka } from '@nexttap/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClients, parseServerConfig, startServer } from '../src/index';

let cluster: MockKafka;
const topic = uniqueName('clients');

beforeAll(async () => {
  cluster = await startMockKafka({ brokers: 1, topics: [{ name: topic, partitions: 1 }] });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('createClients with Kafka', () => {
  it('writes the component field once per log line', async () => {
    const lines: string[] = [];
    const destination = { write: (line: string) => lines.push(line) };
    // Debug, so that kafkajs logs its connection and request lines too.
    const logger = createLogger({ level: 'debug', service: 'kafka-clients-test' }, destination);
    const config = parseServerConfig({ KAFKA_BROKERS: cluster.brokers.join(','), SEED_DATASET: 'none' });
    const clients = await createClients(config, logger);
    expect(clients.mode.bus).toBe('kafka');

    await clients.bus.produce(topic, [{ key: 'session-1', value: 'tap' }]);
    await clients.close();

    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => (line.match(/"component":/g) ?? []).length !== 1)).toEqual([]);
    const parsed = lines.map((line) => JSON.parse(line) as { component: string; msg: string });
    expect(parsed.some((line) => line.component === 'kafkajs' && line.msg === 'kafkajs')).toBe(true);
    expect(parsed.some((line) => line.component === 'kafka-bus' && line.msg === 'kafka bus closed')).toBe(true);
  });
});

describe('ingest start with Kafka', () => {
  /** Starts and stops an ingest with `settings` on the mock cluster and returns the messages of its warn lines. */
  async function warningsOfIngest(settings: Record<string, string>): Promise<string[]> {
    const messages: string[] = [];
    const destination = { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) };
    const config = parseServerConfig({
      PORT: '0',
      KAFKA_BROKERS: cluster.brokers.join(','),
      TOPIC_PREFIX: uniqueName('shutdown-rule'),
      INGEST_CONSUMER_GROUP: uniqueName('ingest'),
      SEED_DATASET: 'none',
      // The mock cluster assigns partitions after the session timeout less 1 s.
      KAFKA_SESSION_TIMEOUT_MS: '3000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
      ...settings,
    });
    const server = await startServer('ingest', config, { logger: createLogger({ level: 'warn', service: 'kafka-clients-test' }, destination) });
    await server.close();
    return messages;
  }

  const warning = 'shutdown timeout is not above the kafka session timeout, so a shutdown during a rebalance can time out';

  it('warns only of a short shutdown timeout', async () => {
    expect(await warningsOfIngest({ SHUTDOWN_TIMEOUT_MS: '2000' })).toContain(warning);
    expect(await warningsOfIngest({ SHUTDOWN_TIMEOUT_MS: '4000' })).not.toContain(warning);
  }, 60_000);
});
