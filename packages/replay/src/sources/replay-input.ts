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

/** One rejected record: its file and line or topic, partition and offset, and the reason. */
export interface RejectedRecord {
  location: string;
  code: string;
  /** The path of the field at fault; absent when the whole record is, as for a line that is not JSON. */
  field?: string;
  message: string;
}

/**
 * The maximum number of rejected records that a replay lists one by one. The rest are only counted, so a log
 * of mostly invalid lines does not make `report.json` as large as the log.
 */
export const MAX_LISTED_REJECTIONS = 100;

/** Records that failed validation and were left out, as ingest would send them to the dead-letter topic. */
export interface RejectedRecords {
  count: number;
  /** Rejections per reason code, such as `EVENT_INVALID_FIELD`. */
  byCode: Record<string, number>;
  /** The first rejected record without its field, which `records[0]` repeats. Reports written before `records` existed have only this one. */
  first?: { location: string; code: string; message: string };
  /** The first `listLimit` rejected records in reading order. Absent when none was rejected. */
  records?: RejectedRecord[];
  /** The maximum number of records that `records` lists (`MAX_LISTED_REJECTIONS`). Absent when none was rejected. */
  listLimit?: number;
}

/** Everything a replay reads before it starts: catalog, interactions in any order, and the rejects. */
export interface ReplayInput {
  source: SourceDescription;
  catalog: CatalogItem[];
  events: Interaction[];
  rejected: RejectedRecords;
}

/** Counts rejected records while a source reads them, and keeps the first `MAX_LISTED_REJECTIONS` of them. */
export class RejectionCounter {
  private count = 0;
  private readonly byCode: Record<string, number> = {};
  private readonly listed: RejectedRecord[] = [];

  add(location: string, rejection: Rejection): void {
    this.count += 1;
    this.byCode[rejection.code] = (this.byCode[rejection.code] ?? 0) + 1;
    if (this.listed.length < MAX_LISTED_REJECTIONS) {
      const field = rejection.field === undefined ? {} : { field: rejection.field };
      this.listed.push({ location, code: rejection.code, ...field, message: rejection.message });
    }
  }

  get result(): RejectedRecords {
    const first = this.listed[0];
    if (first === undefined) {
      // Without rejections the result has no listing keys, so such a report keeps the bytes it had before they existed.
      return { count: this.count, byCode: { ...this.byCode } };
    }
    return {
      count: this.count,
      byCode: { ...this.byCode },
      first: { location: first.location, code: first.code, message: first.message },
      records: this.listed.map((record) => ({ ...record })),
      listLimit: MAX_LISTED_REJECTIONS,
    };
  }
}

/** Names the rejected records that `records` lists, for a message: "it", "all 10" or "the first 100". */
export function describeListedRejections(rejected: { count: number; records?: readonly unknown[] | undefined }): string {
  const listed = rejected.records?.length ?? 0;
  if (listed < rejected.count) {
    return `the first ${listed.toLocaleString('en-US')}`;
  }
  return listed === 1 ? 'it' : `all ${listed.toLocaleString('en-US')}`;
}

/**
 * Validation options for logged events. They turn off the two checks that compare `ts` with the
 * ingest clock (future skew and lateness), because a log does not record that clock at each event's arrival.
 */
export const REPLAY_VALIDATION = { nowMs: Number.MAX_SAFE_INTEGER } as const;
