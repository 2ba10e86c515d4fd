import { z } from 'zod';
import { describeValue } from './describe-value';
import { idSchema } from './ids';
import { EPOCH_SECONDS_LIMIT, timestampSchema } from './timestamp';

/** Interaction types an app may send, in the order documented for clients. */
export const INTERACTION_TYPES = [
  'impression',
  'tap',
  'play',
  'complete',
  'skip',
  'like',
  'share',
  'comment',
  'hide',
] as const;

export type InteractionType = (typeof INTERACTION_TYPES)[number];

/** Maximum dwell accepted on one event: 24 hours in milliseconds. */
export const MAX_DWELL_MS = 86_400_000;

/** Maximum feed position accepted on one event, counted from 0. */
export const MAX_POSITION = 10_000;

/** Maximum number of keys in `context`, and maximum length of one context key and one string value. */
export const MAX_CONTEXT_KEYS = 32;
export const MAX_CONTEXT_KEY_LENGTH = 64;
export const MAX_CONTEXT_VALUE_LENGTH = 256;

const contextValue = z.union([
  z.string().max(MAX_CONTEXT_VALUE_LENGTH, `context string values must have at most ${MAX_CONTEXT_VALUE_LENGTH} characters; shorten this one`),
  z.number().finite(),
  z.boolean(),
]);

// Each message covers every way its field can be invalid, whether of the wrong type, a fraction or out of range.
const DWELL_MESSAGE = `dwellMs must be a whole number of milliseconds from 0 to ${MAX_DWELL_MS} (24 hours), such as 4500`;
const POSITION_MESSAGE = `position must be a whole number from 0 to ${MAX_POSITION}, the item's 0-based position in the feed, such as 3`;
const VALUE_MESSAGE = 'value must be a finite number, such as 4.5';
const CONTEXT_MESSAGE = 'context must be a JSON object of string, number or boolean values, such as {"screen":"home"}';

/** Returns the message of an invalid `type`: missing, or not one of `INTERACTION_TYPES`. */
function typeMessage(issue: z.ZodIssueOptionalMessage, context: { data: unknown; defaultError: string }): string {
  const accepted = INTERACTION_TYPES.join(', ');
  if (context.data === undefined) {
    return `type is missing; send one of ${accepted}`;
  }
  if (issue.code === z.ZodIssueCode.invalid_enum_value || issue.code === z.ZodIssueCode.invalid_type) {
    return `type ${describeValue(context.data)} is not an interaction type; send one of ${accepted}`;
  }
  return context.defaultError;
}

export const interactionSchema = z
  .object({
    eventId: idSchema('eventId'),
    type: z.enum(INTERACTION_TYPES, {
      errorMap: (issue, context) => ({ message: typeMessage(issue, context) }),
    }),
    ts: timestampSchema('ts', { minMs: EPOCH_SECONDS_LIMIT }),
    sessionId: idSchema('sessionId'),
    itemId: idSchema('itemId'),
    userId: idSchema('userId').optional(),
    dwellMs: z
      .number({ invalid_type_error: DWELL_MESSAGE })
      .int(DWELL_MESSAGE)
      .min(0, DWELL_MESSAGE)
      .max(MAX_DWELL_MS, DWELL_MESSAGE)
      .optional(),
    position: z
      .number({ invalid_type_error: POSITION_MESSAGE })
      .int(POSITION_MESSAGE)
      .min(0, POSITION_MESSAGE)
      .max(MAX_POSITION, POSITION_MESSAGE)
      .optional(),
    feedId: idSchema('feedId').optional(),
    value: z.number({ invalid_type_error: VALUE_MESSAGE }).finite(VALUE_MESSAGE).optional(),
    context: z
      .record(contextValue, { invalid_type_error: CONTEXT_MESSAGE })
      .refine((record) => Object.keys(record).length <= MAX_CONTEXT_KEYS, {
        message: `context has more than ${MAX_CONTEXT_KEYS} keys; send at most ${MAX_CONTEXT_KEYS}`,
      })
      .refine((record) => Object.keys(record).every((key) => key.length <= MAX_CONTEXT_KEY_LENGTH), {
        message: `context keys must have at most ${MAX_CONTEXT_KEY_LENGTH} characters; shorten the longer keys`,
      })
      .optional(),
  })
  .strict();

/** An interaction after validation: ids normalised, `ts` in epoch milliseconds. */
export type Interaction = z.infer<typeof interactionSchema>;

/** The shape a client sends: `ts` may still be an ISO-8601 string. */
export type InteractionInput = z.input<typeof interactionSchema>;
