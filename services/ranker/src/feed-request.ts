import { idSchema, ITEM_KINDS } from '@nexttap/events';
import { parsePlainInteger } from '@nexttap/http';
import { CANDIDATE_SOURCES } from '@nexttap/rank';
import { z } from 'zod';

/** Maximum items one feed returns. */
export const MAX_FEED_LIMIT = 100;
/** Items a feed returns when the request sets no limit. */
export const DEFAULT_FEED_LIMIT = 20;
/** Maximum candidates a client may send for re-ranking, and maximum excluded items. */
export const MAX_REQUEST_CANDIDATES = 1_000;
/** Maximum cursor length accepted. The ranker's own cursors are about 60 characters. */
export const MAX_CURSOR_LENGTH = 256;

/**
 * Message of a request that sends `candidates` with `cursor`. A next page is cut from the ranking
 * stored with the first page, so candidates sent with it would have no effect. `limit`, `exclude`,
 * `explain` and `includeCatalog` apply to each page. The next page checks `userId` against the
 * first page's.
 */
export const CURSOR_WITH_CANDIDATES_MESSAGE =
  'candidates must be left out when cursor is sent, because the cursor pages an earlier ranking whose candidates are fixed. ' +
  "With a cursor send sessionId and the first page's userId, and optionally limit, exclude, explain and includeCatalog; " +
  'to rank these candidates, leave cursor out';

/** Message of every invalid `limit` in a body or a query, whether of the wrong type, a fraction or out of range. */
const LIMIT_MESSAGE = `limit must be a whole number from 1 to ${MAX_FEED_LIMIT}, such as ${DEFAULT_FEED_LIMIT}`;

const limitSchema = z
  .number({ invalid_type_error: LIMIT_MESSAGE })
  .int(LIMIT_MESSAGE)
  .min(1, LIMIT_MESSAGE)
  .max(MAX_FEED_LIMIT, LIMIT_MESSAGE);

export const feedRequestSchema = z
  .object({
    sessionId: idSchema('sessionId'),
    userId: idSchema('userId').optional(),
    limit: limitSchema.default(DEFAULT_FEED_LIMIT).describe('Items to return, 1 to 100.'),
    candidates: z
      .array(idSchema('candidates[]'), {
        invalid_type_error: `candidates must be an array of 1 to ${MAX_REQUEST_CANDIDATES} item ids, such as ["i1","i2"]`,
      })
      .min(1, `candidates must not be empty; send 1 to ${MAX_REQUEST_CANDIDATES} item ids, such as ["i1","i2"], or leave it out to rank from the candidate pools`)
      .max(MAX_REQUEST_CANDIDATES, `candidates has more than ${MAX_REQUEST_CANDIDATES} items; send 1 to ${MAX_REQUEST_CANDIDATES} item ids`)
      .optional()
      .describe('Items to re-rank, up to 1,000; an id given twice counts once, in its first place. Without it the ranker generates candidates.'),
    exclude: z
      .array(idSchema('exclude[]'), { invalid_type_error: `exclude must be an array of at most ${MAX_REQUEST_CANDIDATES} item ids, such as ["i7"]` })
      .max(MAX_REQUEST_CANDIDATES, `exclude has more than ${MAX_REQUEST_CANDIDATES} items; send at most ${MAX_REQUEST_CANDIDATES} item ids`)
      .optional()
      .describe('Items never to return.'),
    cursor: z
      .string({ invalid_type_error: `cursor must be a string of 1 to ${MAX_CURSOR_LENGTH} characters, the nextCursor of the previous page sent unchanged` })
      .min(1, 'cursor must not be empty; leave it out for a first page, or send the nextCursor of the previous page unchanged')
      .max(MAX_CURSOR_LENGTH, `cursor has more than ${MAX_CURSOR_LENGTH} characters; send the nextCursor of the previous page unchanged`)
      .optional()
      .describe("nextCursor of the previous page: returns the next page of the same ranking, without repeats. Send it with the first page's sessionId and userId, and without candidates."),
    explain: z.boolean({ invalid_type_error: 'explain must be true or false, such as "explain": true' }).default(false)
      .describe('Adds to each item its candidate sources, the rules that moved it and its top feature contributions.'),
    includeCatalog: z.boolean({ invalid_type_error: 'includeCatalog must be true or false, such as "includeCatalog": true' }).default(false)
      .describe("Adds each item's title, categories, creator, kind and live flag from the catalog."),
  })
  .strict()
  .superRefine((request, context) => {
    if (request.cursor !== undefined && request.candidates !== undefined) {
      context.addIssue({ code: z.ZodIssueCode.custom, path: ['candidates'], message: CURSOR_WITH_CANDIDATES_MESSAGE });
    }
  });

/** A valid feed request body, shown when a body is missing or not a JSON object. */
export const FEED_REQUEST_EXAMPLE = '{"sessionId":"s1","limit":20}';

export type FeedRequest = z.infer<typeof feedRequestSchema>;

/**
 * `limit` of a query string, written in plain digits. z.coerce.number() reads `0x2`, `1e1` and
 * ` 5` as numbers and an empty value as 0, so an empty limit would be rejected as out of range.
 */
const queryLimitSchema = z.preprocess((value, context) => {
  if (typeof value !== 'string') {
    return value;
  }
  const limit = parsePlainInteger(value);
  if (limit === undefined) {
    context.addIssue({
      code: z.ZodIssueCode.custom,
      message: `limit must be a whole number in plain digits, from 1 to ${MAX_FEED_LIMIT}, such as ${DEFAULT_FEED_LIMIT}`,
      fatal: true,
    });
    return z.NEVER;
  }
  return limit;
}, limitSchema);

/** Query of `GET /v1/feed/live`; query strings carry text, so numbers and flags are parsed from it. */
export const liveFeedQuerySchema = z
  .object({
    sessionId: idSchema('sessionId'),
    userId: idSchema('userId').optional(),
    limit: queryLimitSchema.default(DEFAULT_FEED_LIMIT).describe('Items to return, 1 to 100.'),
    includeCatalog: z.enum(['true', 'false'], { errorMap: () => ({ message: 'includeCatalog must be true or false, such as includeCatalog=true' }) }).default('false'),
  })
  .strict();

export type LiveFeedQuery = z.infer<typeof liveFeedQuerySchema>;

const ruleEffectSchema = z.object({
  rule: z.enum(['live-boost', 'diversity', 'exploration']),
  from: z.number().int().describe('Position before the rule.'),
  to: z.number().int().describe('Position after the rule.'),
});

export const feedItemSchema = z.object({
  itemId: z.string(),
  position: z.number().int().describe('0-based position in the whole ranking; later pages continue the count.'),
  score: z.number().describe('Model score, or the heuristic score when the feed is degraded.'),
  sources: z.array(z.enum(CANDIDATE_SOURCES)),
  unknown: z.literal(true).optional().describe('Present when the item has no catalog record: its catalog features took their defaults, and its event counters, if it has any, were used.'),
  catalog: z
    .object({
      title: z.string().optional(),
      categories: z.array(z.string()),
      creatorId: z.string().optional(),
      kind: z.enum(ITEM_KINDS).optional(),
      live: z.boolean().optional(),
    })
    .optional(),
  explanation: z
    .object({
      sources: z.array(z.enum(CANDIDATE_SOURCES)),
      rules: z.array(ruleEffectSchema),
      features: z.array(
        z.object({
          feature: z.string(),
          value: z.number(),
          contribution: z
            .number()
            .describe(
              "The item's model score minus its model score with only this feature set to its default from the model manifest, " +
                'the other features unchanged. Both scores come from one extra batched model run per feed.',
            ),
        }),
      ),
    })
    .optional(),
});

export const feedResponseSchema = z.object({
  feedId: z.string().uuid().describe('Identifies the served feed; send it on impressions and taps for attribution.'),
  model: z.object({ name: z.string(), version: z.string(), variant: z.string() }),
  items: z.array(feedItemSchema),
  candidateCount: z.number().int(),
  nextCursor: z.string().optional().describe('Pass as `cursor` for the next page; absent on the last page and on degraded feeds.'),
  degraded: z
    .object({
      reason: z.enum(['store-timeout', 'store-unavailable', 'model-failed', 'model-non-finite']),
      message: z.string(),
    })
    .optional()
    .describe('Present when the feed was served in a reduced form instead of failing.'),
});

export type FeedResponse = z.infer<typeof feedResponseSchema>;
export type FeedResponseItem = z.infer<typeof feedItemSchema>;

export const errorResponseSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});
