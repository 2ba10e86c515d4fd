import { z } from 'zod';
import { idSchema } from './ids';
import { timestampSchema } from './timestamp';

export const ITEM_KINDS = ['video', 'live', 'music', 'movie', 'poll', 'event'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

/** Bounds on list fields, so one catalog record cannot grow an item's Redis value without limit. */
export const MAX_CATEGORIES = 16;
export const MAX_TAGS = 64;
export const MAX_TITLE_LENGTH = 512;

/**
 * Maximum `durationMs`: 366 days in milliseconds. A larger value is a typo or another unit, and the
 * bound keeps the value far below 2^53, where a JSON number stops being an exact integer
 * (JSON.parse rounds 9007199254740993 to 9007199254740992).
 */
export const MAX_DURATION_MS = 31_622_400_000;

/** Message of every invalid `durationMs`, whether of the wrong type, a fraction or out of range. 5400000 ms is 90 minutes. */
const DURATION_MESSAGE = `durationMs must be a whole number of milliseconds from 0 to ${MAX_DURATION_MS} (366 days), such as 5400000 for 90 minutes`;

export const catalogItemSchema = z
  .object({
    itemId: idSchema('itemId'),
    categories: z
      .array(idSchema('categories[]'), {
        required_error: `categories is missing; send an array of up to ${MAX_CATEGORIES} category ids, such as ["drama"], or [] for none`,
        invalid_type_error: `categories must be an array of up to ${MAX_CATEGORIES} category ids, such as ["drama"], or [] for none`,
      })
      .max(MAX_CATEGORIES, `categories has more than ${MAX_CATEGORIES} entries; keep the ${MAX_CATEGORIES} that describe the item best`)
      .transform((categories) => [...new Set(categories)]),
    creatorId: idSchema('creatorId').optional(),
    tags: z
      .array(idSchema('tags[]'), { invalid_type_error: `tags must be an array of up to ${MAX_TAGS} tag ids, such as ["award-winner"]` })
      .max(MAX_TAGS, `tags has more than ${MAX_TAGS} entries; keep the ${MAX_TAGS} that describe the item best`)
      .optional(),
    kind: z
      .enum(ITEM_KINDS, {
        // The rejection message adds the value received.
        errorMap: () => ({ message: `kind must be one of ${ITEM_KINDS.join(', ')}, such as "movie"` }),
      })
      .optional(),
    title: z
      .string({ invalid_type_error: `title must be a string of at most ${MAX_TITLE_LENGTH} characters, such as "Casablanca"` })
      .max(MAX_TITLE_LENGTH, `title has more than ${MAX_TITLE_LENGTH} characters; shorten it to at most ${MAX_TITLE_LENGTH}`)
      .optional(),
    live: z.boolean({ invalid_type_error: 'live must be true or false, such as "live": true' }).optional(),
    publishedAt: timestampSchema('publishedAt').optional(),
    durationMs: z
      .number({ invalid_type_error: DURATION_MESSAGE })
      .int(DURATION_MESSAGE)
      .min(0, DURATION_MESSAGE)
      .max(MAX_DURATION_MS, DURATION_MESSAGE)
      .optional(),
  })
  .strict();

/** A catalog record after validation; categories keep the order the app sent, without repeats. */
export type CatalogItem = z.infer<typeof catalogItemSchema>;
export type CatalogItemInput = z.input<typeof catalogItemSchema>;

/**
 * Returns the record as it travels on a topic: `publishedAt` as an ISO-8601 string, so that dates
 * from 1970 to 1973, small in milliseconds, are not taken for epoch seconds when read back.
 */
export function toWireCatalogItem(item: CatalogItem): CatalogItemInput {
  return item.publishedAt === undefined ? item : { ...item, publishedAt: new Date(item.publishedAt).toISOString() };
}
