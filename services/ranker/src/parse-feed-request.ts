import { MAX_ID_LENGTH } from '@nexttap/events';
import { parseBody } from '@nexttap/http';
import { feedRequestSchema, MAX_REQUEST_CANDIDATES, type FeedRequest } from './feed-request';

/**
 * Printable ASCII of 1 to `MAX_ID_LENGTH` characters with at least one that is not a space. Such a
 * string passes every check of `idSchema` unchanged: NFC leaves ASCII as it is, and it has no
 * control, invisible or surrogate characters.
 */
const PLAIN_ID = new RegExp(`^(?=[\\x20-\\x7e]*[\\x21-\\x7e])[\\x20-\\x7e]{1,${MAX_ID_LENGTH}}$`);

/** Fields that carry up to `MAX_REQUEST_CANDIDATES` ids each. */
const ID_LIST_FIELDS = ['candidates', 'exclude'] as const;

/**
 * Parses a `POST /v1/feed` body with `feedRequestSchema`. Running zod's id schema on each of up to
 * 2,000 ids costs more than the rest of a feed request. So id lists whose ids are all plain ASCII
 * (`PLAIN_ID`) are checked here and taken as they are, and zod checks the rest of the body. Any
 * other list goes through zod, so every rejection keeps the schema's message.
 */
export function parseFeedRequest(body: unknown): FeedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return parseBody(feedRequestSchema, body, 'RANKER_ERR_INVALID_REQUEST');
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
  return { ...parseBody(feedRequestSchema, rest, 'RANKER_ERR_INVALID_REQUEST'), ...lists };
}

/** Tells whether a value is a non-empty array of at most `MAX_REQUEST_CANDIDATES` plain ids. */
function isPlainIdList(value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_REQUEST_CANDIDATES) {
    return false;
  }
  for (const element of value) {
    if (typeof element !== 'string' || !PLAIN_ID.test(element)) {
      return false;
    }
  }
  return true;
}
