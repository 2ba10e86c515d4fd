import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findJsonSyntaxProblem } from '../src/json-syntax';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Fragments that build mostly-JSON texts, so random joins hit both valid and broken forms. */
const FRAGMENTS = ['{', '}', '[', ']', ',', ':', ' ', '"a"', '"\\u00e9"', '"\\x"', '"\n"', '1', '-0', '0.5', '1e3', '01', '1.', 'true', 'nul', 'null', 'NaN', '/*', "'"];

describe('findJsonSyntaxProblem', () => {
  it('accepts exactly the texts JSON.parse accepts', () => {
    const text = fc.oneof(fc.json(), fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 12 }).map((parts) => parts.join('')), fc.string());
    fc.assert(
      fc.property(text, (candidate) => {
        expect(findJsonSyntaxProblem(candidate) === undefined).toBe(parses(candidate));
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    ['{"sessionId":', 13, 'unexpected end of input'],
    ['"abc', 4, 'unexpected end of input inside a string'],
    ['{"a":1,}', 7, 'unexpected character "}" where a field name in double quotes was expected'],
    ['{"a" 1}', 5, 'unexpected character "1" where ":" was expected'],
    ['[1 2]', 3, 'unexpected character "2" where "," or "]" was expected'],
    ['"a\nb"', 2, 'unescaped control character U+000A inside a string (write it as a \\u escape)'],
    ['"\\x"', 1, 'invalid escape sequence \\x inside a string'],
    ['-Infinity', 1, 'unexpected character "I" where a digit was expected (JSON has no NaN or Infinity)'],
    ['[1]\u202e', 3, 'unexpected character "\\u202e" after the end of the JSON value'],
    ["{'a':1}", 1, 'unexpected character "\'" where a field name in double quotes was expected (JSON strings take double quotes)'],
  ])('locates the problem in %j', (text, index, problem) => {
    expect(findJsonSyntaxProblem(text)).toEqual({ index, problem });
  });

  it('scans deep nesting without recursion', () => {
    expect(findJsonSyntaxProblem('['.repeat(100_000) + ']'.repeat(100_000))).toBeUndefined();
    expect(findJsonSyntaxProblem('['.repeat(100_000))).toEqual({ index: 100_000, problem: 'unexpected end of input' });
  });
});
