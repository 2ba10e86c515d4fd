import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idSchema, isPlainId } from '../src/index';

const schema = idSchema('sessionId');

/** Returns the message of the first issue of `value`, or undefined when the schema accepts it. */
function messageOf(value: unknown): string | undefined {
  const parsed = schema.safeParse(value);
  return parsed.success ? undefined : parsed.error.issues[0]?.message;
}

describe('idSchema', () => {
  it.each([
    ['a leading space', ' 42', 'sessionId starts with whitespace (" "); send the id without the surrounding whitespace'],
    ['a trailing space', '42 ', 'sessionId ends with whitespace (" "); send the id without the surrounding whitespace'],
    ['a tab and a newline', '\t42\n', 'sessionId starts and ends with whitespace ("\\t" and "\\n"); send the id without the surrounding whitespace'],
    ['a no-break space', '42\u00a0', 'sessionId ends with whitespace ("\\u00a0"); send the id without the surrounding whitespace'],
    ['an ideographic space', '\u300042', 'sessionId starts with whitespace ("\\u3000"); send the id without the surrounding whitespace'],
    ['a byte order mark', '\ufeff42', 'sessionId starts with whitespace ("\\ufeff"); send the id without the surrounding whitespace'],
    ['a line separator', '42\u2028', 'sessionId ends with whitespace ("\\u2028"); send the id without the surrounding whitespace'],
    ['two trailing spaces', '42  ', 'sessionId ends with whitespace ("  "); send the id without the surrounding whitespace'],
  ])('rejects an id with %s', (_case, value, message) => {
    expect(messageOf(value)).toBe(message);
  });

  it('shows trailing whitespace of a long id', () => {
    expect(messageOf(`${'x'.repeat(127)} `)).toBe('sessionId ends with whitespace (" "); send the id without the surrounding whitespace');
  });

  it('keeps spaces inside an id', () => {
    expect(schema.parse('a b  c')).toBe('a b  c');
  });

  it('rejects at either end every character that trim removes', () => {
    const whitespace: string[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      const character = String.fromCharCode(code);
      if (character.trim() === '') {
        whitespace.push(character);
      }
    }
    // ECMAScript's WhiteSpace and LineTerminator characters, 25 of them on Node 20.
    expect(whitespace).toHaveLength(25);
    for (const character of whitespace) {
      const code = character.charCodeAt(0).toString(16);
      expect(schema.safeParse(`${character}a`).success, `U+${code} first`).toBe(false);
      expect(schema.safeParse(`a${character}`).success, `U+${code} last`).toBe(false);
    }
  });
});

describe('isPlainId', () => {
  it.each([' a', 'a ', ' a ', ' ', '  '])('rejects %j', (value) => {
    expect(isPlainId(value)).toBe(false);
  });

  it.each(['a', 'a b', '~', '42', 'x'.repeat(128)])('accepts %j', (value) => {
    expect(isPlainId(value)).toBe(true);
  });

  it('agrees with idSchema on printable ASCII', () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 130 });
    fc.assert(
      fc.property(printable, (value) => {
        expect(isPlainId(value)).toBe(schema.safeParse(value).success);
      }),
      { numRuns: 2000 },
    );
  });
});
