import { z } from 'zod';

/** Maximum length of any id after NFC normalisation, in UTF-16 code units. */
export const MAX_ID_LENGTH = 128;

// Control characters in an id break log lines and Redis key listings, so they are rejected.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * Builds the schema of one id field: a non-empty string, NFC-normalised so that the same visible
 * id typed on two keyboards maps to one Redis key, with no control characters.
 */
export function idSchema(field: string) {
  return z
    .string({
      required_error: `${field} is missing; send a non-empty string id`,
      invalid_type_error: `${field} must be a string id`,
    })
    .transform((value) => value.normalize('NFC'))
    .superRefine((value, context) => {
      if (value.length === 0) {
        context.addIssue({ code: z.ZodIssueCode.custom, message: `${field} is empty; send a non-empty string id` });
      } else if (value.length > MAX_ID_LENGTH) {
        context.addIssue({
          code: z.ZodIssueCode.custom,
          message: `${field} has ${value.length} characters; the maximum is ${MAX_ID_LENGTH}`,
        });
      } else if (CONTROL_CHARACTERS.test(value)) {
        context.addIssue({ code: z.ZodIssueCode.custom, message: `${field} contains a control character; remove it` });
      }
    });
}
