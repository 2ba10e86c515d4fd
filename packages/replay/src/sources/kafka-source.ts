import { randomBytes } from 'node:crypto';
import { decodeCatalogItem, decodeInteraction, type CatalogItem, type Interaction } from '@nexttap/events';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { describeError, REPLAY_ERROR_CODES, ReplayError } from '../errors';
import { checkTopicExists, resolveRanges, type TopicPosition } from './kafka-ranges';
import { RejectionCounter, REPLAY_VALIDATION, type PartitionRange, type ReplayInput } from './replay-input';

export type { TopicPosition } from './kafka-ranges';

export interface KafkaSourceOptions {
  /** Bootstrap brokers as `host:port`. */
  brokers: readonly string[];
  /** Topic of nexttap interactions, such as `interactions`. */
  topic: string;
  /** Topic of catalog items, read whole; optional. */
  catalogTopic?: string;
  /** First position read, inclusive. Default: the earliest offset of each partition. */
  from?: TopicPosition;
  /** Position where reading stops, exclusive. Default: each partition's end offset when the read starts. */
  to?: TopicPosition;
  /** Longest wait for the whole read, in ms. Default 120000. */
  timeoutMs?: number;
  /** Client id the brokers show. Default `nexttap-replay`. */
  clientId?: string;
  /** Receives a one-line warning when an offset of `from` or `to` falls outside a partition's offsets and is clamped to them. */
  onWarning?: (message: string) => void;
}

const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * Reads interactions from a Kafka topic between two positions, and optionally the whole catalog
 * topic, with a plain kafkajs consumer in a consumer group of its own that never commits. Timestamp
 * positions use the records' Kafka timestamps (set by the producer or the broker), not the events'
 * `ts`: the broker can only look up the former. Invalid records are counted and left out, as
 * ingest would send them to the dead-letter topic.
 *
 * @throws ReplayError `REPLAY_ERR_UNREADABLE_INPUT` naming the topic when it does not exist, when
 * the range selects no record of it, or when it cannot be read in time
 */
export async function readKafkaInput(options: KafkaSourceOptions): Promise<ReplayInput> {
  // Loaded here rather than with the module, so a replay of files does not load the Kafka client.
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: options.clientId ?? 'nexttap-replay', brokers: [...options.brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await checkTopicExists(admin, options.topic, '--topic');
    if (options.catalogTopic !== undefined) {
      await checkTopicExists(admin, options.catalogTopic, '--catalog-topic');
    }
    const ranges = await resolveRanges(admin, options.topic, { from: options.from, to: options.to, requireRecords: true, onClamp: options.onWarning });
    // An empty catalog topic is no error here: the command rejects a missing catalog under --protocol full only.
    const catalogRanges = options.catalogTopic === undefined ? [] : await resolveRanges(admin, options.catalogTopic, { requireRecords: false });
    const wanted = new Map<string, PartitionRange[]>([[options.topic, ranges]]);
    if (options.catalogTopic !== undefined) {
      wanted.set(options.catalogTopic, catalogRanges);
    }
    const records = await consumeRanges(kafka, wanted, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return decodeRecords(options, ranges, records);
  } catch (error) {
    if (error instanceof ReplayError) {
      throw error;
    }
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `Kafka topic ${options.topic} could not be read: ${describeError(error)}`, { cause: error });
  } finally {
    await admin.disconnect();
  }
}

interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | null;
}

/** Consumes every wanted range and returns the records in partition and offset order per topic. */
async function consumeRanges(kafka: Kafka, wanted: ReadonlyMap<string, PartitionRange[]>, timeoutMs: number): Promise<TopicRecord[]> {
  const remaining = new Map<string, bigint>();
  for (const [topic, ranges] of wanted) {
    for (const range of ranges) {
      if (BigInt(range.startOffset) < BigInt(range.endOffset)) {
        remaining.set(`${topic}:${range.partition}`, BigInt(range.endOffset));
      }
    }
  }
  if (remaining.size === 0) {
    return [];
  }
  const consumer = kafka.consumer({ groupId: `nexttap-replay-${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 200 });
  const records: TopicRecord[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...wanted.keys()], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const topics = [...new Set([...remaining.keys()].map((key) => key.slice(0, key.lastIndexOf(':'))))];
        reject(new Error(`timed out after ${timeoutMs} ms with partitions of ${topics.join(', ')} unread; check the brokers and the offsets`));
      }, timeoutMs);
      const collect = ({ batch }: EachBatchPayload) => collectBatch(batch, wanted, remaining, records);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async (payload) => {
            collect(payload);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .then(() => seekToStarts(consumer, wanted))
        .catch((error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

function seekToStarts(consumer: Consumer, wanted: ReadonlyMap<string, PartitionRange[]>): void {
  for (const [topic, ranges] of wanted) {
    for (const range of ranges) {
      consumer.seek({ topic, partition: range.partition, offset: range.startOffset });
    }
  }
}

function collectBatch(
  batch: EachBatchPayload['batch'],
  wanted: ReadonlyMap<string, PartitionRange[]>,
  remaining: Map<string, bigint>,
  records: TopicRecord[],
): void {
  const range = wanted.get(batch.topic)?.find((entry) => entry.partition === batch.partition);
  const key = `${batch.topic}:${batch.partition}`;
  const end = remaining.get(key);
  if (range === undefined || end === undefined) {
    return;
  }
  const start = BigInt(range.startOffset);
  for (const message of batch.messages) {
    const offset = BigInt(message.offset);
    if (offset >= start && offset < end) {
      records.push({ topic: batch.topic, partition: batch.partition, offset: message.offset, value: message.value });
    }
  }
  // NOTE: a partition whose records just before `end` were removed by compaction never reaches
  // `end - 1`, so its read ends at the timeout; interaction topics are not compacted.
  if (BigInt(batch.lastOffset()) + 1n >= end) {
    remaining.delete(key);
  }
}

function decodeRecords(options: KafkaSourceOptions, ranges: PartitionRange[], records: readonly TopicRecord[]): ReplayInput {
  const rejections = new RejectionCounter();
  const catalog = new Map<string, CatalogItem>();
  const events: Interaction[] = [];
  const ordered = [...records].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  for (const record of ordered) {
    const location = `${record.topic}[${record.partition}]@${record.offset}`;
    if (record.topic === options.topic) {
      const result = decodeInteraction(record.value, REPLAY_VALIDATION);
      if (result.ok) {
        events.push(result.value);
      } else {
        rejections.add(location, result.rejection);
      }
      continue;
    }
    const result = decodeCatalogItem(record.value);
    if (result.ok) {
      catalog.set(result.value.itemId, result.value);
    } else {
      rejections.add(location, result.rejection);
    }
  }
  return {
    source: {
      kind: 'kafka',
      topic: options.topic,
      ...(options.catalogTopic === undefined ? {} : { catalogTopic: options.catalogTopic }),
      partitions: ranges,
    },
    catalog: [...catalog.values()],
    events,
    rejected: rejections.result,
  };
}
