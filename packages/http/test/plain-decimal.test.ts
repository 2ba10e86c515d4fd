import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { numberSettingSchema, parsePlainDecimal, parsePlainInteger } from '../src/index';

/** Text that is not plain decimal notation, though Number() reads most of it as a number. */
const NUMBER_LOOKALIKES = ['', ' ', '\t', ' 5', '5 ', '+3', '1e3', '1E3', '0x2', '0o7', '0b1', '007', '-0', '1_000', '1,000', 'Infinity', '５'];

describe('parsePlainInteger', () => {
  it('reads every safe integer as String() writes it', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (value) => {
        expect(parsePlainInteger(String(value))).toBe(value);
      }),
    );
  });

  it('returns only numbers that String() writes back as the same text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789-+.eEx _'), maxLength: 15 }), (text) => {
        const value = parsePlainInteger(text);
        if (value !== undefined) {
          expect(String(value)).toBe(text);
        }
      }),
    );
  });

  it.each(NUMBER_LOOKALIKES)('rejects %j', (text) => {
    expect(parsePlainInteger(text)).toBeUndefined();
  });

  it('rejects a fraction', () => {
    expect(parsePlainInteger('2.5')).toBeUndefined();
    expect(parsePlainInteger('2.0')).toBeUndefined();
  });
});

describe('parsePlainDecimal', () => {
  it('reads integers and fractions', () => {
    expect(parsePlainDecimal('12')).toBe(12);
    expect(parsePlainDecimal('0.5')).toBe(0.5);
    expect(parsePlainDecimal('-3.25')).toBe(-3.25);
  });

  it.each([...NUMBER_LOOKALIKES, '.5', '5.', '-0.0', '1.2.3'])('rejects %j', (text) => {
    expect(parsePlainDecimal(text)).toBeUndefined();
  });
});

describe('numberSettingSchema', () => {
  const schema = numberSettingSchema({ min: 1, max: 60_000, default: 50, unit: 'milliseconds' });
  const messageOf = (value: unknown) => {
    const parsed = schema.safeParse(value);
    return parsed.success ? '' : parsed.error.issues.map((issue) => issue.message).join(' | ');
  };

  it('reads digits, takes numbers and fills the default', () => {
    expect(schema.parse('75')).toBe(75);
    expect(schema.parse(75)).toBe(75);
    expect(schema.parse(undefined)).toBe(50);
  });

  it('words blank and malformed text with one issue each', () => {
    expect(messageOf('   ')).toBe('is blank; set a whole number of milliseconds such as 50, or unset it to use the default 50');
    expect(messageOf('0x2')).toBe(
      'is not a whole number of milliseconds in plain digits; write it like 50, without a sign, spaces, leading zeros, an exponent or a 0x prefix',
    );
  });

  it('checks the range of text and numbers', () => {
    expect(schema.safeParse('0').success).toBe(false);
    expect(schema.safeParse('60001').success).toBe(false);
    expect(schema.safeParse(0).success).toBe(false);
    expect(schema.safeParse(1.5).success).toBe(false);
  });
});
