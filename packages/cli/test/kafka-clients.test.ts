import { createLogger } from '@nexttap/observability';
import { startMockKafka, uniqueName, type MockKafka } from '@nexttap/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClients, parseServerConfig } from '../src/index';

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
