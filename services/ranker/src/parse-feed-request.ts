import { isPlainId } from '@nexttap/events';
import { parseBody } from '@nexttap/http';
import { isScannedFeedBody } from './feed-body-parser';
import {
  DEFAULT_FEED_LIMIT,
  FEED_REQUEST_EXAMPLE,
  feedRequestSchema,
  MAX_CURSOR_LENGTH,
  MAX_FEED_LIMIT,
  MAX_REQUEST_CANDIDATES,
  type FeedRequest,
} from './feed-request';

/** Fields that carry up to `MAX_REQUEST_CANDIDATES` ids each. */
const ID_LIST_FIELDS = ['candidates', 'exclude'] as const;

/**
 * Fields that `parseCommonBody` checks. A field added to `feedRequestSchema` but not here sends
 * every body that has it through zod, so it is never dropped.
 */
const FEED_REQUEST_FIELDS = new Set(['sessionId', 'userId', 'limit', 'candidates', 'exclude', 'cursor', 'explain', 'includeCatalog']);

/**
 * Parses a `POST /v1/feed` body with `feedRequestSchema`. Running zod's id schema on each of up to
 * 2,000 ids costs more than the rest of a feed request. So id lists whose ids are all plain ASCII
 * (`isPlainId`) are checked here and taken as they are, and zod checks the rest of the body. A body
 * whose every field passes the checks of `parseCommonBody` skips zod entirely. Anything else goes
 * through zod, so every rejection keeps the schema's message. A body of `scanFeedBody` passed
 * those checks while it was parsed.
 */
export function parseFeedRequest(body: unknown): FeedRequest {
  const request = parseFields(body);
  // Each field passed, but candidates and cursor conflict. The schema writes that rejection, so
  // parsing the body with it again gives every path the same message.
  if (request.cursor !== undefined && request.candidates !== undefined) {
    return parseWithSchema(body);
  }
  return request;
}

/** Parses a feed body with `feedRequestSchema` alone, the reference that the faster paths agree with. */
export function parseWithSchema(body: unknown): FeedRequest {
  return parseBody(feedRequestSchema, body, 'RANKER_ERR_INVALID_REQUEST', { example: FEED_REQUEST_EXAMPLE });
}

/** Parses the fields of a feed body one by one, without the schema's check across fields. */
function parseFields(body: unknown): FeedRequest {
  if (isScannedFeedBody(body)) {
    return commonRequestOf(body);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return parseWithSchema(body);
  }
  const common = parseCommonBody(body as Record<string, unknown>);
  if (common !== undefined) {
    return common;
  }
  const rest: Record<string, unknown> = { ...body };
  const lists: Partial<Record<(typeof ID_LIST_FIELDS)[number], string[]>> = {};
  for (const field of ID_LIST_FIELDS) {
    const value = rest[field];
    if (isPlainIdList(value)) {
      lists[field] = value;
      delete rest[field];
    }
  }
  return { ...parseWithSchema(rest), ...lists };
}

/** Tells whether a value is a non-empty array of at most `MAX_REQUEST_CANDIDATES` plain ids. */
function isPlainIdList(value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_REQUEST_CANDIDATES) {
    return false;
  }
  for (const element of value) {
    if (!isPlainId(element)) {
      return false;
    }
  }
  return true;
}

/**
 * Returns the request of a body whose fields all pass the schema's checks in their common form,
 * with the schema's defaults. The common form is plain ids (`isPlainId`), a whole-number limit in
 * range, non-empty plain id lists, a cursor of allowed length and boolean flags. Returns undefined
 * for any other body, which the schema then parses. A property test checks that both give the
 * same result.
 */
function parseCommonBody(body: Record<string, unknown>): FeedRequest | undefined {
  for (const field of Object.keys(body)) {
    if (!FEED_REQUEST_FIELDS.has(field)) {
      return undefined;
    }
  }
  const { sessionId, userId, limit, candidates, exclude, cursor, explain, includeCatalog } = body;
  if (!isPlainId(sessionId) || (userId !== undefined && !isPlainId(userId))) {
    return undefined;
  }
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_FEED_LIMIT)) {
    return undefined;
  }
  if ((candidates !== undefined && !isPlainIdList(candidates)) || (exclude !== undefined && !isPlainIdList(exclude))) {
    return undefined;
  }
  if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH)) {
    return undefined;
  }
  if ((explain !== undefined && typeof explain !== 'boolean') || (includeCatalog !== undefined && typeof includeCatalog !== 'boolean')) {
    return undefined;
  }
  return commonRequestOf(body);
}

/** Returns the request of a body whose fields passed the checks of `parseCommonBody`, with the schema's defaults. */
function commonRequestOf(body: Record<string, unknown>): FeedRequest {
  const { sessionId, userId, limit, candidates, exclude, cursor, explain, includeCatalog } = body as {
    sessionId: string;
    userId?: string;
    limit?: number;
    candidates?: string[];
    exclude?: string[];
    cursor?: string;
    explain?: boolean;
    includeCatalog?: boolean;
  };
  return {
    sessionId,
    ...(userId === undefined ? {} : { userId }),
    limit: limit ?? DEFAULT_FEED_LIMIT,
    ...(candidates === undefined ? {} : { candidates }),
    ...(exclude === undefined ? {} : { exclude }),
    ...(cursor === undefined ? {} : { cursor }),
    explain: explain ?? false,
    includeCatalog: includeCatalog ?? false,
  };
}
