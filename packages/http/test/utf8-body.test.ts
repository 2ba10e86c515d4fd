import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf8Body, InvalidUtf8BodyError, invalidUtf8Offset } from '../src/index';

describe('invalidUtf8Offset', () => {
  it.each([
    ['a lone continuation byte', [0x61, 0x80], 1],
    ['a byte never used in UTF-8', [0x61, 0x62, 0xff], 2],
    ['an overlong slash', [0xc0, 0xaf], 0],
    ['an overlong three-byte form', [0x61, 0xe0, 0x80, 0x80], 1],
    ['an encoded surrogate', [0xed, 0xa0, 0x80], 0],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a truncated sequence at the end', [0x61, 0xe2, 0x82], 1],
  ])('finds %s', (_case, bytes, offset) => {
    expect(invalidUtf8Offset(Uint8Array.from(bytes))).toBe(offset);
  });

  it('agrees with isUtf8 on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
        const offset = invalidUtf8Offset(bytes);
        expect(offset === -1).toBe(isUtf8(bytes));
        if (offset !== -1) {
          expect(isUtf8(bytes.subarray(0, offset))).toBe(true);
        }
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('decodeUtf8Body', () => {
  it('decodes valid UTF-8', () => {
    expect(decodeUtf8Body(Buffer.from('{"sessionId":"é😀"}'))).toBe('{"sessionId":"é😀"}');
  });

  it('returns an error for invalid UTF-8', () => {
    const result = decodeUtf8Body(Buffer.from([0x7b, 0xff]));
    expect(result).toBeInstanceOf(InvalidUtf8BodyError);
    expect((result as InvalidUtf8BodyError).offset).toBe(1);
  });
});
