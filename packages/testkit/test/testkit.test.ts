import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { Kafka, Partitioners, logLevel, type Admin } from 'kafkajs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startMockKafka, startRedisServer, uniqueName, type MockKafka } from '../src/index';

const KAFKA_TEST_TIMEOUT_MS = 60_000;
const MESSAGE_COUNT = 100;
const PARTITION_COUNT = 3;

async function startCluster(topics: { name: string; partitions: number }[]): Promise<MockKafka> {
  const cluster = await startMockKafka({ topics });
  onTestFinished(() => cluster.stop());
  return cluster;
}

function createClient(cluster: MockKafka): Kafka {
  return new Kafka({
    clientId: uniqueName('testkit'),
    brokers: cluster.brokers,
    logLevel: logLevel.WARN,
  });
}

async function connectAdmin(kafka: Kafka): Promise<Admin> {
  const admin = kafka.admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  return admin;
}

/** Opens a TCP connection and returns "connected" or the connect error code. */
function probeTcp(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('startMockKafka', () => {
  it(
    'delivers keyed messages to a consumer group',
    async () => {
      const topic = uniqueName('events');
      const groupId = uniqueName('group');
      const cluster = await startCluster([{ name: topic, partitions: PARTITION_COUNT }]);
      const kafka = createClient(cluster);
      const admin = await connectAdmin(kafka);

      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      onTestFinished(() => producer.disconnect());
      const messages = Array.from({ length: MESSAGE_COUNT }, (_, i) => ({ key: `key-${i}`, value: `value-${i}` }));
      await producer.send({ topic, messages });

      const watermarks = await admin.fetchTopicOffsets(topic);
      expect(watermarks).toHaveLength(PARTITION_COUNT);
      const producedCount = watermarks.reduce((sum, entry) => sum + Number(entry.high), 0);
      expect(producedCount).toBe(MESSAGE_COUNT);

      // A short fetch wait lets consumer.stop() return quickly, because stop waits for the open fetch.
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
      await consumer.connect();
      onTestFinished(() => consumer.disconnect());
      await consumer.subscribe({ topic, fromBeginning: true });

      const receivedKeys = new Set<string>();
      const nextOffsets = new Map<number, string>();
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          receivedKeys.add(message.key?.toString() ?? '');
          nextOffsets.set(partition, (BigInt(message.offset) + 1n).toString());
        },
      });
      await expect.poll(() => receivedKeys.size, { timeout: 30_000 }).toBe(MESSAGE_COUNT);
      expect([...receivedKeys].sort()).toEqual(messages.map((message) => message.key).sort());

      await consumer.commitOffsets(
        [...nextOffsets].map(([partition, offset]) => ({ topic, partition, offset })),
      );
      await consumer.stop();

      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(committed?.topic).toBe(topic);
      const committedByPartition = new Map(committed?.partitions.map((entry) => [entry.partition, entry.offset]));
      for (const entry of watermarks) {
        expect(committedByPartition.get(entry.partition), `partition ${entry.partition}`).toBe(entry.high);
      }
    },
    KAFKA_TEST_TIMEOUT_MS,
  );

  it(
    'takes a broker down and up',
    async () => {
      const topic = uniqueName('outage');
      const cluster = await startCluster([{ name: topic, partitions: PARTITION_COUNT }]);
      const kafka = createClient(cluster);
      const admin = await connectAdmin(kafka);

      const { brokers } = await admin.describeCluster();
      expect(brokers).toHaveLength(3);
      const broker = brokers.find((entry) => entry.nodeId === 1);
      if (!broker) {
        throw new Error(`broker 1 is missing from ${JSON.stringify(brokers)}`);
      }
      expect(await probeTcp(broker.host, broker.port)).toBe('connected');

      await cluster.setBrokerDown(1);
      await expect.poll(() => probeTcp(broker.host, broker.port)).toBe('ECONNREFUSED');

      await cluster.setBrokerUp(1);
      await expect.poll(() => probeTcp(broker.host, broker.port)).toBe('connected');

      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      onTestFinished(() => producer.disconnect());
      const partitions = Array.from({ length: PARTITION_COUNT }, (_, partition) => partition);
      const results = await producer.send({
        topic,
        messages: partitions.map((partition) => ({ partition, value: 'after-outage' })),
      });
      expect(results.map((result) => result.partition).sort()).toEqual(partitions);
      for (const result of results) {
        expect(result.errorCode, `partition ${result.partition}`).toBe(0);
      }
    },
    KAFKA_TEST_TIMEOUT_MS,
  );

  it(
    'creates topics after startup',
    async () => {
      const topic = uniqueName('created');
      const cluster = await startCluster([]);
      await cluster.createTopic(topic, 5);

      const admin = await connectAdmin(createClient(cluster));
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0]?.partitions).toHaveLength(5);
    },
    KAFKA_TEST_TIMEOUT_MS,
  );

  it('rejects invalid commands', async () => {
    const topic = uniqueName('taken');
    const cluster = await startCluster([{ name: topic, partitions: 1 }]);

    await expect(cluster.setBrokerDown(4)).rejects.toThrow('invalid broker id "4": expected 1 to 3');
    await expect(cluster.setBrokerUp(0)).rejects.toThrow('invalid broker id "0"');
    await expect(cluster.createTopic(topic, 1)).rejects.toThrow('already exists');
    await expect(cluster.createTopic(uniqueName('empty'), 0)).rejects.toThrow('invalid partition count "0"');
    await expect(cluster.createTopic('bad/name', 1)).rejects.toThrow('invalid topic name "bad/name"');
    await expect(cluster.createTopic('two words', 1)).rejects.toThrow('must not contain whitespace');
  });

  it('rejects an invalid startup topic', async () => {
    await expect(startMockKafka({ topics: [{ name: 'bad/name', partitions: 1 }] })).rejects.toThrow(
      /exited with exit code 2.*invalid topic name "bad\/name"/s,
    );
  });

  it('rejects commands after stop', async () => {
    const cluster = await startMockKafka({ brokers: 1 });
    expect(cluster.brokers).toHaveLength(1);

    await cluster.stop();
    await cluster.stop();
    await expect(cluster.setBrokerDown(1)).rejects.toThrow('after stop()');
  });
});

describe('startRedisServer', () => {
  it('serves, restarts and stops', async () => {
    const server = await startRedisServer();
    onTestFinished(() => server.stop());
    expect(server.port).not.toBe(6379);
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);

    const client = new Redis(server.url, { maxRetriesPerRequest: 20 });
    onTestFinished(() => client.disconnect());
    // Refused connections while the server restarts are expected. Without a
    // listener, ioredis reports them as unhandled error events.
    const connectionErrors: Error[] = [];
    client.on('error', (error: Error) => connectionErrors.push(error));
    const key = uniqueName('key');
    expect(await client.set(key, 'value-1')).toBe('OK');
    expect(await client.get(key)).toBe('value-1');

    await server.restart();
    // The client reconnects by itself. The new server is empty because persistence is off.
    await expect.poll(() => client.get(key), { timeout: 10_000 }).toBeNull();
    expect(await client.set(key, 'value-2')).toBe('OK');
    expect(await client.get(key)).toBe('value-2');

    client.disconnect();
    await server.stop();
    expect(await probeTcp('127.0.0.1', server.port)).toBe('ECONNREFUSED');
    await expect(server.restart()).rejects.toThrow('it was stopped');
  });

  it('runs servers side by side', async () => {
    const first = await startRedisServer();
    onTestFinished(() => first.stop());
    const second = await startRedisServer();
    onTestFinished(() => second.stop());

    expect(first.port).not.toBe(second.port);
  });
});
