import { z } from 'zod';
import { quoteJsonString } from './describe-value';

/**
 * Maximum length of any id after NFC normalisation, in characters: Unicode code points, so an emoji
 * outside the Basic Multilingual Plane counts once. JSON Schema's `maxLength`, which the OpenAPI
 * documents publish, counts the same unit.
 */
export const MAX_ID_LENGTH = 128;

// Control characters (C0, DEL, C1) break log lines and Redis key listings, and invisible format
// characters (zero-width, bidirectional overrides, byte order mark) make two different ids look the
// same, so both are rejected.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const INVISIBLE_CHARACTERS = /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Builds the schema of one id field: a non-empty string, NFC-normalised so that the same visible
 * id typed on two keyboards maps to one Redis key, with no surrounding whitespace and no control
 * characters.
 */
export function idSchema(field: string) {
  const idDescription = `a string id of 1 to ${MAX_ID_LENGTH} characters, such as "a1b2c3"`;
  return z
    .string({
      required_error: `${field} is missing; send ${idDescription}`,
      invalid_type_error: `${field} must be ${idDescription}`,
    })
    .transform((value) => value.normalize('NFC'))
    .superRefine((value, context) => {
      // `showValue` makes the collector append the value, escaped, as the ranker's error replies
      // append every value a schema message rejects.
      const params = { showValue: true };
      const surrounding = describeSurroundingWhitespace(value);
      if (value.trim().length === 0) {
        context.addIssue({ code: z.ZodIssueCode.custom, params, message: `${field} is empty or only whitespace; send ${idDescription}` });
      } else if (surrounding !== undefined) {
        // Whitespace is what String.prototype.trim removes: tab, vertical tab, form feed, space,
        // no-break space, byte order mark, the other Unicode space separators and the line
        // terminators LF, CR, U+2028 and U+2029. It comes from string concatenation or CSV parsing
        // and would make " 42" another session than "42". Spaces inside an id stay valid.
        context.addIssue({ code: z.ZodIssueCode.custom, params, message: `${field} ${surrounding}; send the id without the surrounding whitespace` });
      } else if (value.length > MAX_ID_LENGTH && codePointLength(value) > MAX_ID_LENGTH) {
        context.addIssue({
          code: z.ZodIssueCode.custom,
          params,
          message: `${field} has ${codePointLength(value)} characters; the maximum is ${MAX_ID_LENGTH}, so send a shorter id`,
        });
      } else if (CONTROL_CHARACTERS.test(value)) {
        context.addIssue({ code: z.ZodIssueCode.custom, params, message: `${field} contains a control character; remove it` });
      } else if (INVISIBLE_CHARACTERS.test(value)) {
        context.addIssue({ code: z.ZodIssueCode.custom, params, message: `${field} contains an invisible format character (zero-width or bidirectional); remove it` });
      } else if (LONE_SURROGATE.test(value)) {
        context.addIssue({ code: z.ZodIssueCode.custom, params, message: `${field} contains an unpaired UTF-16 surrogate; send valid Unicode` });
      }
    });
}

/**
 * Describes the whitespace around `value`, such as `starts with whitespace (" ")`, or returns
 * undefined when it has none. The whitespace is shown escaped, because a value shown after the
 * message may be cut before a trailing space.
 */
export function describeSurroundingWhitespace(value: string): string | undefined {
  const leading = value.slice(0, value.length - value.trimStart().length);
  const trailing = value.slice(value.trimEnd().length);
  if (leading !== '' && trailing !== '') {
    return `starts and ends with whitespace (${quoteJsonString(leading)} and ${quoteJsonString(trailing)})`;
  }
  if (leading !== '') {
    return `starts with whitespace (${quoteJsonString(leading)})`;
  }
  if (trailing !== '') {
    return `ends with whitespace (${quoteJsonString(trailing)})`;
  }
  return undefined;
}

/**
 * Printable ASCII that neither starts nor ends with a space. Such an id is its own NFC form and has
 * no surrounding whitespace and no control, invisible or surrogate characters, so every id rule of
 * `idSchema` holds.
 */
const PLAIN_ID = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/**
 * Tells whether `value` is a plain id: printable ASCII of at most `MAX_ID_LENGTH` characters that
 * neither starts nor ends with a space. `idSchema` accepts such a string unchanged, so hot paths
 * may skip zod for it.
 */
export function isPlainId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_ID_LENGTH && PLAIN_ID.test(value);
}

/**
 * Counts the Unicode code points of `value`: a surrogate pair counts once, an unpaired surrogate
 * once. A string has at most as many code points as UTF-16 code units (`length`).
 */
export function codePointLength(value: string): number {
  let count = 0;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    const next = value.charCodeAt(index + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      index += 1;
    }
    count += 1;
  }
  return count;
}
