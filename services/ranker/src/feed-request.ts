import { idSchema } from '@nexttap/events';
import { z } from 'zod';

/** Maximum items one feed returns. */
export const MAX_FEED_LIMIT = 100;
/** Maximum candidates a client may send for re-ranking, and maximum excluded items. */
export const MAX_REQUEST_CANDIDATES = 1_000;

export const feedRequestSchema = z
  .object({
    sessionId: idSchema('sessionId'),
    userId: idSchema('userId').optional(),
    limit: z
      .number({ invalid_type_error: 'limit must be a number' })
      .int('limit must be a whole number')
      .min(1, 'limit must be at least 1')
      .max(MAX_FEED_LIMIT, `limit must be at most ${MAX_FEED_LIMIT}`)
      .default(20),
    candidates: z
      .array(idSchema('candidates[]'), { invalid_type_error: 'candidates must be an array of item ids' })
      .min(1, 'candidates must not be empty; leave it out to rank from the candidate pools')
      .max(MAX_REQUEST_CANDIDATES, `candidates has more than ${MAX_REQUEST_CANDIDATES} items; send at most ${MAX_REQUEST_CANDIDATES}`)
      .optional(),
    exclude: z
      .array(idSchema('exclude[]'), { invalid_type_error: 'exclude must be an array of item ids' })
      .max(MAX_REQUEST_CANDIDATES, `exclude has more than ${MAX_REQUEST_CANDIDATES} items`)
      .optional(),
  })
  .strict();

export type FeedRequest = z.infer<typeof feedRequestSchema>;
