import type { PlannedWrite, ReadRequest, ReadResult } from '@nexttap/features';
import type { CandidateSource } from './candidates';
import type { RuleEffect } from './feed-rules';
import { decodeRankingColumns, encodeRankingColumns } from './ranking-columns';

/**
 * Keys of served feeds. They carry the session's hash tag, so a feed's record, the session's served
 * history and the session's features live in one Redis Cluster slot and one write touches one slot.
 * An event that carries a `feedId` also carries its `sessionId`, which finds the record.
 */
export const servedFeedKeys = {
  /** Hash of one served feed: the ranking, the model, and the items of each served page. */
  feed: (sessionId: string, feedId: string) => `s:{${sessionId}}:feed:${feedId}`,
  /** List of the item ids of the session's recent responses, newest first, as JSON arrays. */
  served: (sessionId: string) => `s:{${sessionId}}:served`,
} as const;

/** One entry of a stored ranking, in ranked order. */
export interface RankingEntry {
  itemId: string;
  score: number;
  sources: CandidateSource[];
  rules: RuleEffect[];
}

/** A served feed as stored for attribution and paging. */
export interface ServedFeedRecord {
  feedId: string;
  /** `name@version` of the model. */
  model: string;
  variant: string;
  createdAtMs: number;
  /**
   * The userId the first page was ranked for: null when it had none, undefined for records written
   * before the field was stored.
   */
  userId: string | null | undefined;
  ranking: RankingEntry[];
  /** Item ids served at each page offset. */
  pages: Map<number, string[]>;
}

export interface RecordServedInput {
  sessionId: string;
  feedId: string;
  /** Offset of the served page in the ranking; 0 for a first page. */
  offset: number;
  servedItemIds: readonly string[];
  /** The whole ranking, its model and the request's userId, written with the first page only. */
  first?: { model: string; variant: string; createdAtMs: number; userId?: string | undefined; ranking: readonly RankingEntry[] };
  /** Whether the served items join the session's served history (false for live feed pushes). */
  countAsServed: boolean;
  ttlMs: number;
  servedHistoryLength: number;
}

const PAGE_FIELD_PREFIX = 'page:';
/**
 * Field of the ranking in columns. Records written before it have a `ranking` field of one JSON
 * array per entry, which is still read. A reader that knows only `ranking` finds no ranking in a
 * newer record and reports the feed as expired.
 */
const RANKING_COLUMNS_FIELD = 'rankingColumns';
/** Field of the first page's userId; an empty value stands for a request without one, because ids are never empty. */
const USER_ID_FIELD = 'userId';

/** Plans the writes that record one served page, all in the session's slot. */
export function planServedFeed(input: RecordServedInput): PlannedWrite {
  const feedKey = servedFeedKeys.feed(input.sessionId, input.feedId);
  const operations: PlannedWrite['operations'] = [];
  if (input.first !== undefined) {
    operations.push(
      { op: 'hashSet', key: feedKey, field: 'model', value: input.first.model },
      { op: 'hashSet', key: feedKey, field: 'variant', value: input.first.variant },
      { op: 'hashSet', key: feedKey, field: 'createdAtMs', value: String(input.first.createdAtMs) },
      { op: 'hashSet', key: feedKey, field: USER_ID_FIELD, value: input.first.userId ?? '' },
      { op: 'hashSet', key: feedKey, field: RANKING_COLUMNS_FIELD, value: encodeRankingColumns(input.first.ranking) },
      { op: 'expire', key: feedKey, ttlMs: input.ttlMs },
    );
  }
  const servedText = JSON.stringify(input.servedItemIds);
  operations.push({ op: 'hashSet', key: feedKey, field: `${PAGE_FIELD_PREFIX}${input.offset}`, value: servedText });
  if (input.countAsServed && input.servedHistoryLength > 0) {
    const servedKey = servedFeedKeys.served(input.sessionId);
    operations.push(
      { op: 'listPush', key: servedKey, value: servedText, maxLength: input.servedHistoryLength },
      { op: 'expire', key: servedKey, ttlMs: input.ttlMs },
    );
  }
  return { operations };
}

/** Builds the read of the session's served history. */
export function servedHistoryRequest(sessionId: string, length: number): ReadRequest {
  return { kind: 'list', key: servedFeedKeys.served(sessionId), limit: Math.max(1, length) };
}

/** Parses the served history into the set of item ids served in those responses. */
export function parseServedHistory(result: ReadResult | undefined, length: number): Set<string> {
  const served = new Set<string>();
  if (result?.kind !== 'list' || length <= 0) {
    return served;
  }
  for (const text of result.value.slice(0, length)) {
    for (const itemId of parseJsonArray(text)) {
      if (typeof itemId === 'string') {
        served.add(itemId);
      }
    }
  }
  return served;
}

/** Builds the read of one served feed's record. */
export function servedFeedRequest(sessionId: string, feedId: string): ReadRequest {
  return { kind: 'hash', key: servedFeedKeys.feed(sessionId, feedId) };
}

/** Parses a served feed's record, or returns undefined when it expired or never existed. */
export function parseServedFeed(feedId: string, result: ReadResult | undefined): ServedFeedRecord | undefined {
  if (result?.kind !== 'hash') {
    return undefined;
  }
  const fields = result.value;
  const ranking = parseRanking(fields);
  if (ranking === undefined) {
    return undefined;
  }
  const pages = new Map<number, string[]>();
  for (const [field, text] of Object.entries(fields)) {
    if (field.startsWith(PAGE_FIELD_PREFIX)) {
      pages.set(Number(field.slice(PAGE_FIELD_PREFIX.length)), parseJsonArray(text).filter((value): value is string => typeof value === 'string'));
    }
  }
  return {
    feedId,
    model: fields.model ?? '',
    variant: fields.variant ?? '',
    createdAtMs: Number(fields.createdAtMs ?? 0),
    userId: storedUserId(fields[USER_ID_FIELD]),
    ranking,
    pages,
  };
}

function storedUserId(value: string | undefined): string | null | undefined {
  if (value === undefined) {
    return undefined;
  }
  return value === '' ? null : value;
}

/** Reads the ranking from either stored format, or returns undefined when the record has none. */
function parseRanking(fields: Readonly<Record<string, string>>): RankingEntry[] | undefined {
  const columns = fields[RANKING_COLUMNS_FIELD];
  if (columns !== undefined) {
    return decodeRankingColumns(columns);
  }
  if (fields.ranking === undefined) {
    return undefined;
  }
  return parseJsonArray(fields.ranking).flatMap((raw): RankingEntry[] => {
    if (!Array.isArray(raw) || typeof raw[0] !== 'string') {
      return [];
    }
    return [{ itemId: raw[0], score: Number(raw[1]), sources: (raw[2] ?? []) as CandidateSource[], rules: (raw[3] ?? []) as RuleEffect[] }];
  });
}

function parseJsonArray(text: string): unknown[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value : [];
  } catch {
    return [];
  }
}
