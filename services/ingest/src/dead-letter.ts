import type { BusRecord, DeliveredRecord } from '@nexttap/bus';
import type { Rejection } from '@nexttap/events';

/** Most bytes of the original record kept in a dead-letter envelope. */
const MAX_ORIGINAL_BYTES = 65_536;

/**
 * Builds the dead-letter record of a rejected record: a JSON envelope with the reason, the record's
 * origin and its original value as text, keyed like the original so that one session's rejections
 * stay in order. The reason code is also a header, for consumers that filter without parsing.
 */
export function buildDeadLetter(record: DeliveredRecord, topic: string, rejection: Rejection, nowMs: number): BusRecord {
  const original = record.value === null ? null : record.value.subarray(0, MAX_ORIGINAL_BYTES).toString('utf8');
  return {
    key: record.key,
    value: JSON.stringify({
      reason: rejection,
      source: { topic, partition: record.partition, offset: record.offset, timestampMs: record.timestampMs },
      deadLetteredAtMs: nowMs,
      originalTruncated: record.value !== null && record.value.length > MAX_ORIGINAL_BYTES,
      original,
    }),
    headers: { 'nexttap-reason': rejection.code, 'nexttap-source-topic': topic },
  };
}
