import type { CatalogItem, Interaction, Rejection } from '@nexttap/events';

/** Where a replay's events came from, as the report records it. */
export type SourceDescription =
  | { kind: 'movielens'; directory: string; limit?: number }
  | { kind: 'jsonl'; eventFiles: string[]; catalogFiles: string[] }
  | { kind: 'kafka'; topic: string; catalogTopic?: string; partitions: PartitionRange[] };

/** The offsets of one partition that a Kafka source read: from `startOffset` up to, not including, `endOffset`. */
export interface PartitionRange {
  partition: number;
  startOffset: string;
  endOffset: string;
}

/** Records that failed validation and were left out, as ingest would send them to the dead-letter topic. */
export interface RejectedRecords {
  count: number;
  /** Rejections per reason code, such as `EVENT_INVALID_FIELD`. */
  byCode: Record<string, number>;
  /** The first rejected record: its file and line or topic, partition and offset, and the reason. */
  first?: { location: string; code: string; message: string };
}

/** Everything a replay reads before it starts: catalog, interactions in any order, and the rejects. */
export interface ReplayInput {
  source: SourceDescription;
  catalog: CatalogItem[];
  events: Interaction[];
  rejected: RejectedRecords;
}

/** Counts rejected records while a source reads them. */
export class RejectionCounter {
  private readonly records: RejectedRecords = { count: 0, byCode: {} };

  add(location: string, rejection: Rejection): void {
    this.records.count += 1;
    this.records.byCode[rejection.code] = (this.records.byCode[rejection.code] ?? 0) + 1;
    this.records.first ??= { location, code: rejection.code, message: rejection.message };
  }

  get result(): RejectedRecords {
    return { count: this.records.count, byCode: { ...this.records.byCode }, ...(this.records.first ? { first: { ...this.records.first } } : {}) };
  }
}

/**
 * Validation options for logged events. They turn off the two checks that compare `ts` with the
 * ingest clock (future skew and lateness), because a log does not record that clock at each event's arrival.
 */
export const REPLAY_VALIDATION = { nowMs: Number.MAX_SAFE_INTEGER } as const;
