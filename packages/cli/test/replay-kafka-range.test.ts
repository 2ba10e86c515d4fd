import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockKafka, uniqueName, type MockKafka } from '@nexttap/testkit';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReplayCommand } from '../src/replay-command';

let cluster: MockKafka;
let producer: Producer;
let admin: Admin;
let directory: string;

beforeAll(async () => {
  cluster = await startMockKafka({ brokers: 1 });
  const kafka = new Kafka({ clientId: 'replay-range-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING });
  producer = kafka.producer();
  admin = kafka.admin();
  await producer.connect();
  await admin.connect();
  directory = await mkdtemp(join(tmpdir(), 'nexttap-replay-kafka-'));
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await cluster?.stop();
  await rm(directory, { recursive: true, force: true });
});

const T0 = Date.UTC(2024, 0, 1);

/** Creates an interactions topic of one partition with six events (offsets 0 to 5), and a catalog topic. */
async function createTopics(): Promise<{ topic: string; catalogTopic: string }> {
  const topic = uniqueName('interactions');
  const catalogTopic = uniqueName('catalog');
  await cluster.createTopic(topic, 1);
  await cluster.createTopic(catalogTopic, 1);
  const events = Array.from({ length: 6 }, (_, index) => ({ eventId: `e${index}`, type: 'play', ts: T0 + index * 1_000, sessionId: 's1', itemId: `item-${index}` }));
  await producer.send({ topic, messages: events.map((event) => ({ key: event.sessionId, value: JSON.stringify(event) })) });
  const items = events.map((event) => ({ itemId: event.itemId, categories: ['x'], publishedAt: T0 - 86_400_000 }));
  await producer.send({ topic: catalogTopic, messages: items.map((record) => ({ key: record.itemId, value: JSON.stringify(record) })) });
  return { topic, catalogTopic };
}

/** Runs `nexttap replay` on a topic with the baselines only, and returns the exit code and output. */
async function replayTopic(topic: string, catalogTopic: string, extra: string[]) {
  const output = { stdout: '', stderr: '' };
  const io = {
    stdout: { write: (text: string) => (output.stdout += text) },
    stderr: { write: (text: string) => (output.stderr += text), isTTY: false },
    environment: {},
  };
  const args = ['--kafka-brokers', cluster.brokers.join(','), '--topic', topic, '--catalog-topic', catalogTopic, '--no-model', '--cutoff', '1999-01-01T00:00:00Z'];
  const code = await runReplayCommand([...args, '--out', join(directory, uniqueName('out')), ...extra], io);
  return { code, ...output };
}

describe('nexttap replay of a Kafka range', () => {
  const inverted: Array<{ name: string; flags: string[]; mentions: string }> = [
    { name: 'offsets', flags: ['--from-offset', '100', '--to-offset', '50'], mentions: '--from-offset 100 and --to-offset 50 select no record' },
    { name: 'equal offsets', flags: ['--from-offset', '5000', '--to-offset', '5000'], mentions: '--from-offset 5000 and --to-offset 5000 select no record' },
    {
      name: 'times',
      flags: ['--from-time', '2026-12-05T00:00:00Z', '--to-time', '2026-01-01T00:00:00Z'],
      mentions: '--from-time 2026-12-05T00:00:00Z and --to-time 2026-01-01T00:00:00Z select no record',
    },
  ];
  it.each(inverted)('rejects inverted $name as a usage error', async ({ flags, mentions }) => {
    // The topic does not exist, so a command that connected would fail with exit code 1.
    const topic = uniqueName('never-read');
    const result = await replayTopic(topic, uniqueName('never-read'), flags);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(mentions);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('names the partition offsets when the range selects no record', async () => {
    const { topic, catalogTopic } = await createTopics();
    const result = await replayTopic(topic, catalogTopic, ['--from-offset', '99999999']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Kafka topic ${topic} has no record in the requested range from offset 99999999 to the end offset`);
    expect(result.stderr).toContain('partition 0 holds offsets 0 to 5');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names the requested time when it is after every record', async () => {
    const { topic, catalogTopic } = await createTopics();
    const result = await replayTopic(topic, catalogTopic, ['--from-time', '2030-01-01T00:00:00Z']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Kafka topic ${topic} has no record in the requested range from record time 2030-01-01T00:00:00.000Z`);
    expect(result.stderr).toContain('partition 0 holds offsets 0 to 5');
  });

  it('rejects a topic that does not exist without creating it', async () => {
    const { catalogTopic } = await createTopics();
    const topic = uniqueName('no-such-topic');
    const result = await replayTopic(topic, catalogTopic, []);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Kafka topic ${topic} does not exist on the brokers; check --topic ${topic}`);
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('rejects a catalog topic that does not exist', async () => {
    const { topic } = await createTopics();
    const catalogTopic = uniqueName('no-such-catalog');
    const result = await replayTopic(topic, catalogTopic, []);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Kafka topic ${catalogTopic} does not exist on the brokers; check --catalog-topic ${catalogTopic}`);
  });

  it('says when the topic is empty', async () => {
    const { catalogTopic } = await createTopics();
    const topic = uniqueName('empty');
    await cluster.createTopic(topic, 3);
    const result = await replayTopic(topic, catalogTopic, []);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Kafka topic ${topic} is empty: its 3 partitions have no record`);
  });

  it('warns when it clamps the range to the partition offsets', async () => {
    const { topic, catalogTopic } = await createTopics();
    const result = await replayTopic(topic, catalogTopic, ['--from-offset', '2', '--to-offset', '5000']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('4 events');
    const warnings = result.stderr.split('\n').filter((line) => line.includes('partly outside'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Kafka topic ${topic}: the requested range from offset 2 to offset 5000`);
    expect(warnings[0]).toContain('partition 0 ends at 6, not 5000 (it holds offsets 0 to 5)');
  });
});
