import { randomBytes } from 'node:crypto';
import { decodeCatalogItem, decodeInteraction, type CatalogItem, type Interaction } from '@nexttap/events';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { describeError, REPLAY_ERROR_CODES, ReplayError } from '../errors';
import { RejectionCounter, REPLAY_VALIDATION, type PartitionRange, type ReplayInput } from './replay-input';

/** A position in a topic: an offset applied to every partition, or a record timestamp in epoch ms. */
export type TopicPosition = { offset: number } | { timeMs: number };

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
}

const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * Reads interactions from a Kafka topic between two positions, and optionally the whole catalog
 * topic, with a plain kafkajs consumer in a consumer group of its own that never commits. Timestamp
 * positions use the records' Kafka timestamps (set by the producer or the broker), not the events'
 * `ts`: the broker can only look up the former. Invalid records are counted and left out, as
 * ingest would send them to the dead-letter topic.
 *
 * @throws ReplayError `REPLAY_ERR_UNREADABLE_INPUT` naming the topic when it cannot be read in time
 */
export async function readKafkaInput(options: KafkaSourceOptions): Promise<ReplayInput> {
  // Loaded here rather than with the module, so a replay of files does not load the Kafka client.
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: options.clientId ?? 'nexttap-replay', brokers: [...options.brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const ranges = await resolveRanges(admin, options.topic, options.from, options.to);
    const catalogRanges = options.catalogTopic === undefined ? [] : await resolveRanges(admin, options.catalogTopic, undefined, undefined);
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

/** Resolves the positions to an offset range per partition. */
async function resolveRanges(admin: Admin, topic: string, from: TopicPosition | undefined, to: TopicPosition | undefined): Promise<PartitionRange[]> {
  const bounds = await admin.fetchTopicOffsets(topic);
  const starts = await positionOffsets(admin, topic, from);
  const ends = await positionOffsets(admin, topic, to);
  return bounds
    .map(({ partition, low, high }) => {
      const lowOffset = BigInt(low);
      const highOffset = BigInt(high);
      const start = clamp(starts?.get(partition) ?? lowOffset, lowOffset, highOffset);
      const end = clamp(ends?.get(partition) ?? highOffset, start, highOffset);
      return { partition, startOffset: start.toString(), endOffset: end.toString() };
    })
    .sort((a, b) => a.partition - b.partition);
}

async function positionOffsets(admin: Admin, topic: string, position: TopicPosition | undefined): Promise<Map<number, bigint> | undefined> {
  if (position === undefined) {
    return undefined;
  }
  if ('offset' in position) {
    const partitions = await admin.fetchTopicOffsets(topic);
    return new Map(partitions.map(({ partition }) => [partition, BigInt(position.offset)]));
  }
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, position.timeMs);
  return new Map(offsets.map(({ partition, offset }) => [partition, BigInt(offset)]));
}

function clamp(value: bigint, low: bigint, high: bigint): bigint {
  return value < low ? low : value > high ? high : value;
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
