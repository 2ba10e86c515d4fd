import { ApiError } from '@nexttap/http';
import fc from 'fast-check';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { feedBody } from '../../../test/fuzz-arbitraries';
import { installFeedBodyParser, isScannedFeedBody, scanFeedBody } from '../src/feed-body-parser';
import { parseFeedRequest, parseWithSchema } from '../src/parse-feed-request';

/** Printable ASCII, including the quote and backslash that JSON escapes, and rarely a control character. */
const asciiText = fc.string({
  unit: fc.oneof({ weight: 200, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }) }).map((code) => String.fromCharCode(code)),
  maxLength: 8,
});

/** Mostly `good`, sometimes `bad`. */
function mostly<T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>): fc.Arbitrary<T | U> {
  return fc.oneof({ weight: 15, arbitrary: good }, { weight: 1, arbitrary: bad });
}

/** Bodies close to the common form, most of them in it, in random field order. */
const plainFeedBody = fc
  .record(
    {
      sessionId: mostly(asciiText, fc.oneof(fc.constant('  '), fc.integer())),
      userId: mostly(asciiText, fc.constant(null)),
      limit: mostly(fc.integer({ min: 1, max: 100 }), fc.constantFrom(-1, 0, 101, 2.5, '7')),
      candidates: mostly(fc.array(asciiText, { minLength: 1, maxLength: 5 }), fc.constantFrom([], ['ok', '   '])),
      exclude: mostly(fc.array(asciiText, { minLength: 1, maxLength: 3 }), fc.constant([])),
      cursor: mostly(asciiText, fc.constant('c'.repeat(257))),
      explain: mostly(fc.boolean(), fc.constant(0)),
      includeCatalog: fc.boolean(),
    },
    { requiredKeys: ['sessionId'] },
  )
  .chain((record) => fc.shuffledSubarray(Object.entries(record), { minLength: Object.keys(record).length }).map((entries) => Object.fromEntries(entries)));

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; message: string };

function outcomeOf(parse: () => unknown): Outcome {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { ok: false, code: error.code, message: error.message };
  }
}

describe('scanFeedBody', () => {
  it('agrees with JSON.parse and the schema on generated bodies', () => {
    let scannedCount = 0;
    fc.assert(
      fc.property(fc.oneof(feedBody, plainFeedBody), (value) => {
        const text = JSON.stringify(value);
        const scanned = scanFeedBody(text);
        if (scanned === undefined) {
          return;
        }
        scannedCount += 1;
        expect(scanned).toStrictEqual(JSON.parse(text));
        expect(outcomeOf(() => parseFeedRequest(scanned))).toEqual(outcomeOf(() => parseWithSchema(JSON.parse(text))));
      }),
      { numRuns: 4_000 },
    );
    // The generated bodies include plain ones, so the scan takes a share of them.
    expect(scannedCount).toBeGreaterThan(100);
  });

  it('parses a compact feed body', () => {
    const text = JSON.stringify({ sessionId: 's-1', userId: 'u 1', limit: 100, candidates: ['a', 'b b', 'c~'], exclude: ['d'], cursor: 'abc', explain: true, includeCatalog: false });

    const scanned = scanFeedBody(text);

    expect(scanned).toStrictEqual(JSON.parse(text));
    expect(isScannedFeedBody(scanned)).toBe(true);
    expect(isScannedFeedBody(JSON.parse(text))).toBe(false);
  });

  it('leaves other texts to the JSON parser', () => {
    const texts = [
      '',
      '{}',
      '[]',
      '{ "sessionId": "s" }',
      '{"sessionId":"s"}\n',
      '{"sessionId":"s\\u0041"}',
      '{"sessionId":"é"}',
      '{"sessionId":"   "}',
      '{"sessionId":" s"}',
      '{"sessionId":"s "}',
      '{"sessionId":"s","userId":" u"}',
      '{"sessionId":"s","candidates":["a","b "]}',
      '{"sessionId":"s","exclude":[" a"]}',
      `{"sessionId":"${'x'.repeat(129)}"}`,
      '{"sessionId":"s","sessionId":"t"}',
      '{"sessionId":"s","__proto__":{"x":1}}',
      '{"sessionId":"s","limit":0}',
      '{"sessionId":"s","limit":020}',
      '{"sessionId":"s","limit":101}',
      '{"sessionId":"s","limit":1.5}',
      '{"sessionId":"s","limit":"20"}',
      '{"sessionId":"s","candidates":[]}',
      `{"sessionId":"s","candidates":${JSON.stringify(Array.from({ length: 1_001 }, (_, index) => `i${index}`))}}`,
      '{"sessionId":"s","candidates":["a",]}',
      '{"sessionId":"s","candidates":["a"',
      '{"sessionId":"s","cursor":""}',
      '{"sessionId":"s","explain":1}',
      '{"sessionId":"s","explain":tru}',
      '{"userId":"u"}',
      '{"sessionId":"s","extra":1}',
      '{"sessionId":"s"',
    ];
    for (const text of texts) {
      expect(scanFeedBody(text), text).toBeUndefined();
    }
  });
});

describe('installFeedBodyParser', () => {
  it('falls back to the JSON parser with its errors', async () => {
    const app = Fastify();
    await app.register(async (scope) => {
      installFeedBodyParser(scope);
      scope.post('/echo', async (request) => ({ scanned: isScannedFeedBody(request.body), body: request.body }));
    });
    const post = (payload: string) => app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });

    const scanned = await post('{"sessionId":"s","limit":5}');
    const spaced = await post('{ "sessionId": "s", "limit": 5 }');
    const poisoned = await post('{"sessionId":"s","__proto__":{"x":1}}');
    const invalid = await post('{"sessionId":');

    expect(scanned.json()).toEqual({ scanned: true, body: { sessionId: 's', limit: 5 } });
    expect(spaced.json()).toEqual({ scanned: false, body: { sessionId: 's', limit: 5 } });
    expect(poisoned.statusCode).toBe(400);
    expect(poisoned.json().message).toMatch(/^the request body may not contain a __proto__ or constructor.prototype key/);
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().message).toBe('the request body is not valid JSON: unexpected end of input at byte offset 13; send a JSON object');
    await app.close();
  });
});
