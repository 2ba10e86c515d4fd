import { startMockKafka, uniqueName, type MockKafka } from '@nexttap/testkit';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKafkaInput, ReplayError } from '../src/index';
import { event, item } from './fixtures';

let cluster: MockKafka;
let producer: Producer;

beforeAll(async () => {
  cluster = await startMockKafka({ brokers: 1 });
  producer = new Kafka({ clientId: 'replay-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await cluster?.stop();
});

/** Creates an interactions topic of one partition with six events (offsets 0 to 5) plus one invalid record, and a catalog topic. */
async function createTopics(): Promise<{ topic: string; catalogTopic: string; eventIds: string[] }> {
  const topic = uniqueName('interactions');
  const catalogTopic = uniqueName('catalog');
  await cluster.createTopic(topic, 1);
  await cluster.createTopic(catalogTopic, 1);
  const events = Array.from({ length: 6 }, (_, index) => event('play', 's1', `item-${index}`, index));
  await producer.send({ topic, messages: events.map((interaction) => ({ key: interaction.sessionId, value: JSON.stringify(interaction) })) });
  await producer.send({ topic, messages: [{ key: 's1', value: '{"eventId":"bad"}' }] });
  await producer.send({ topic: catalogTopic, messages: [item('item-0', ['x']), item('item-1', ['y'])].map((record) => ({ key: record.itemId, value: JSON.stringify(record) })) });
  return { topic, catalogTopic, eventIds: events.map((interaction) => interaction.eventId) };
}

describe('Kafka source', () => {
  it('reads a topic between two offsets, with the catalog topic', async () => {
    const { topic, catalogTopic, eventIds } = await createTopics();
    const input = await readKafkaInput({ brokers: cluster.brokers, topic, catalogTopic, from: { offset: 1 }, to: { offset: 4 }, timeoutMs: 30_000 });
    expect(input.events.map((interaction) => interaction.eventId)).toEqual(eventIds.slice(1, 4));
    expect(input.catalog.map((record) => record.itemId)).toEqual(['item-0', 'item-1']);
    expect(input.source).toMatchObject({ kind: 'kafka', topic, partitions: [{ partition: 0, startOffset: '1', endOffset: '4' }] });
  });

  it('reads to the end and counts invalid records', async () => {
    const { topic } = await createTopics();
    const input = await readKafkaInput({ brokers: cluster.brokers, topic, timeoutMs: 30_000 });
    expect(input.events).toHaveLength(6);
    expect(input.rejected.count).toBe(1);
    expect(input.rejected.first?.location).toBe(`${topic}[0]@6`);
  });

  it('names the topic when the read times out', async () => {
    const { topic } = await createTopics();
    const read = readKafkaInput({ brokers: cluster.brokers, topic, timeoutMs: 1 });
    await expect(read).rejects.toBeInstanceOf(ReplayError);
    await expect(read).rejects.toThrow(topic);
  });
});
