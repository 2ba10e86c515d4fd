import { ApiError } from '@nexttap/http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { feedBody } from '../../../test/fuzz-arbitraries';
import { parseFeedRequest, parseWithSchema } from '../src/parse-feed-request';

type Outcome = { ok: true; value: unknown } | { ok: false; status: number; code: string; message: string; field: string | undefined };

function outcomeOf(parse: () => unknown): Outcome {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { ok: false, status: error.statusCode, code: error.code, message: error.message, field: error.details.field };
  }
}

describe('parseFeedRequest', () => {
  it('agrees with the schema on generated bodies', () => {
    fc.assert(
      fc.property(feedBody, (body) => {
        const expected = outcomeOf(() => parseWithSchema(body));
        expect(outcomeOf(() => parseFeedRequest(body))).toEqual(expected);
      }),
      { numRuns: 2_000 },
    );
  });

  it('takes plain ASCII id lists as sent', () => {
    const candidates = Array.from({ length: 1_000 }, (_, index) => `item ${index}`);

    const parsed = parseFeedRequest({ sessionId: 's', candidates, exclude: ['item 3'] });

    expect(parsed.candidates).toEqual(candidates);
    expect(parsed.exclude).toEqual(['item 3']);
    expect(parsed.limit).toBe(20);
  });

  it('rejects lists the fast path leaves to the schema', () => {
    const cases: Array<[unknown, string]> = [
      [{ sessionId: 's', candidates: [] }, 'candidates must not be empty; send 1 to 1000 item ids'],
      [{ sessionId: 's', candidates: Array.from({ length: 1_001 }, (_, index) => `i${index}`) }, 'candidates has more than 1000 items; send 1 to 1000 item ids'],
      [{ sessionId: 's', exclude: Array.from({ length: 1_001 }, (_, index) => `i${index}`) }, 'exclude has more than 1000 items; send at most 1000 item ids'],
      [{ sessionId: 's', candidates: ['ok', '   '] }, 'candidates.1 is empty or only whitespace'],
      [{ sessionId: 's', candidates: ['ok', 'b '] }, 'candidates.1 ends with whitespace (" "); send the id without the surrounding whitespace (received "b ")'],
      [{ sessionId: 's', exclude: [' a'] }, 'exclude.0 starts with whitespace (" "); send the id without the surrounding whitespace (received " a")'],
      [{ sessionId: ' s', candidates: ['ok'] }, 'sessionId starts with whitespace (" ")'],
      [{ sessionId: 's', candidates: ['ok', 'x'.repeat(129)] }, 'candidates.1 has 129 characters'],
      [{ sessionId: 's', exclude: ['a\u0000b'] }, 'exclude.0 contains a control character'],
      [{ sessionId: 's', candidates: ['ok'], unknownField: 1 }, 'unknownField is not a known field'],
    ];
    for (const [body, message] of cases) {
      expect(() => parseFeedRequest(body), message).toThrow(message);
    }
  });

  it('normalises ids outside ASCII as the schema does', () => {
    const parsed = parseFeedRequest({ sessionId: 's', candidates: ['e\u0301', 'plain'] });

    expect(parsed.candidates).toEqual(['\u00e9', 'plain']);
  });
});
