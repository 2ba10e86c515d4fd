import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  codePointLength,
  decodeInteraction,
  INTERACTION_TYPES,
  MAX_DURATION_MS,
  MAX_EVENT_BYTES,
  MAX_ID_LENGTH,
  parseTimestamp,
  REJECTION_REASONS,
  validateCatalogItem,
  validateInteraction,
} from '../src/index';

const NOW_MS = Date.parse('2026-06-01T12:00:00Z');
const options = { nowMs: NOW_MS };

function tap(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { eventId: 'e-1', type: 'tap', ts: NOW_MS - 1000, sessionId: 's-1', itemId: 'i-1', ...overrides };
}

describe('validateInteraction', () => {
  it('accepts a minimal tap', () => {
    const result = validateInteraction(tap(), options);
    expect(result).toEqual({ ok: true, value: tap() });
  });

  it('converts an ISO-8601 ts to epoch milliseconds', () => {
    const result = validateInteraction(tap({ ts: '2026-06-01T11:00:00.250Z' }), options);
    expect(result.ok && result.value.ts).toBe(Date.parse('2026-06-01T11:00:00.250Z'));
  });

  it('rejects epoch seconds and says so', () => {
    const result = validateInteraction(tap({ ts: 1_700_000_000 }), options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.code).toBe(REJECTION_REASONS.epochSeconds);
    expect(result.rejection.field).toBe('ts');
    expect(result.rejection.message).toContain('looks like epoch seconds');
    expect(result.rejection.message).toContain('1700000000000');
  });

  it('rejects an unknown type with the accepted list', () => {
    const result = validateInteraction(tap({ type: 'click' }), options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.code).toBe(REJECTION_REASONS.unknownType);
    expect(result.rejection.message).toContain('"click"');
    for (const type of INTERACTION_TYPES) {
      expect(result.rejection.message).toContain(type);
    }
  });

  it('names a missing field', () => {
    const { sessionId: _omitted, ...withoutSession } = tap();
    const result = validateInteraction(withoutSession, options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.code).toBe(REJECTION_REASONS.missingField);
    expect(result.rejection.field).toBe('sessionId');
  });

  it('names a missing type with the accepted list', () => {
    const { type: _omitted, ...withoutType } = tap();
    const result = validateInteraction(withoutType, options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.code).toBe(REJECTION_REASONS.missingField);
    expect(result.rejection.message).toBe(`type is missing; send one of ${INTERACTION_TYPES.join(', ')}`);
  });

  it('leaves out the field of a non-object event', () => {
    const result = validateInteraction([], options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.code).toBe(REJECTION_REASONS.notAnObject);
    expect(result.rejection).not.toHaveProperty('field');
  });

  it('counts id length in code points', () => {
    // Each emoji is one code point and two UTF-16 code units.
    const accepted = validateInteraction(tap({ sessionId: '\u{1F600}'.repeat(MAX_ID_LENGTH) }), options);
    expect(accepted.ok).toBe(true);

    const rejected = validateInteraction(tap({ sessionId: '\u{1F600}'.repeat(MAX_ID_LENGTH + 1) }), options);
    expect(rejected.ok).toBe(false);
    if (rejected.ok) return;
    expect(rejected.rejection.field).toBe('sessionId');
    expect(rejected.rejection.message.startsWith(`sessionId has ${MAX_ID_LENGTH + 1} characters; the maximum is ${MAX_ID_LENGTH}, so send a shorter id (received "`)).toBe(true);
  });

  it('counts an unpaired surrogate as one character', () => {
    expect(codePointLength('a\u{1F600}b')).toBe(3);
    expect(codePointLength('\ud800\ud800\udc00')).toBe(2);
    expect(codePointLength('\udc00\ud800')).toBe(2);
  });

  it('quotes the received value of a wrong type', () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ itemId: 5 }, 'itemId', 'itemId must be a string id of 1 to 128 characters, such as "a1b2c3" (received 5)'],
      [{ position: 'x' }, 'position', 'position must be a whole number from 0 to 10000, the item\'s 0-based position in the feed, such as 3 (received "x")'],
      [{ dwellMs: 'x' }, 'dwellMs', 'dwellMs must be a whole number of milliseconds from 0 to 86400000 (24 hours), such as 4500 (received "x")'],
      [{ value: '4' }, 'value', 'value must be a finite number, such as 4.5 (received "4")'],
      [{ context: [1, 2] }, 'context', 'context must be a JSON object of string, number or boolean values, such as {"screen":"home"} (received [1,2])'],
      [{ context: [] }, 'context', 'context must be a JSON object of string, number or boolean values, such as {"screen":"home"} (received [])'],
      [{ context: { a: { b: 1 } } }, 'context.a', 'context.a must be a string of at most 256 characters, a finite number or a boolean (received {"b":1})'],
    ];
    for (const [overrides, field, message] of cases) {
      const result = validateInteraction(tap(overrides), options);
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.rejection.field).toBe(field);
      expect(result.rejection.message).toBe(message);
    }
  });

  it('names a missing ts', () => {
    const { ts: _omitted, ...withoutTs } = tap();
    const result = validateInteraction(withoutTs, options);
    expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.missingField);
  });

  it('rejects an unknown field', () => {
    const result = validateInteraction(tap({ colour: 'red' }), options);
    expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.unknownField);
    expect(result.ok || result.rejection.field).toBe('colour');
  });

  it('rejects an event older than the lateness limit', () => {
    const result = validateInteraction(tap({ ts: NOW_MS - 7_200_000 }), { nowMs: NOW_MS, maxLatenessMs: 3_600_000 });
    expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.tooLate);
    expect(result.ok || result.rejection.message).toBe(
      `ts ${NOW_MS - 7_200_000} is 7200 s old; events older than 3600 s are not applied, because their eventId may no longer be recognised as a repeat. ` +
        'Send events within that window; to load older history once, run ingest with a larger MAX_EVENT_LATENESS_MS',
    );
    expect(validateInteraction(tap({ ts: NOW_MS - 1_800_000 }), { nowMs: NOW_MS, maxLatenessMs: 3_600_000 }).ok).toBe(true);
  });

  it('rejects a timestamp far in the future', () => {
    const result = validateInteraction(tap({ ts: NOW_MS + 3_600_000 }), options);
    expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.futureTimestamp);
  });

  it('normalises ids to NFC', () => {
    const decomposed = 'cafe\u0301';
    const result = validateInteraction(tap({ itemId: decomposed }), options);
    expect(result.ok && result.value.itemId).toBe('caf\u00e9');
  });

  it('rejects an id over the length limit', () => {
    const result = validateInteraction(tap({ sessionId: 'x'.repeat(MAX_ID_LENGTH + 1) }), options);
    expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.invalidField);
    expect(result.ok || result.rejection.message).toContain(`maximum is ${MAX_ID_LENGTH}`);
  });

  it.each([
    ['whitespace only', '   '],
    ['a zero-width space', 'a\u200bb'],
    ['a bidirectional override', 'a\u202eb'],
    ['a C1 control', 'a\u0085b'],
    ['an unpaired surrogate', 'a\ud800b'],
  ])('rejects an id with %s', (_case, itemId) => {
    const result = validateInteraction(tap({ itemId }), options);
    expect(result.ok || result.rejection.field).toBe('itemId');
  });

  it.each([
    ['a control character', 'a\u0007b', 'itemId contains a control character; remove it (received "a\\u0007b")'],
    ['a C1 control', 'a\u0085b', 'itemId contains a control character; remove it (received "a\\u0085b")'],
    ['a bidirectional override', 'a\u202eb', 'itemId contains an invisible format character (zero-width or bidirectional); remove it (received "a\\u202eb")'],
    ['a zero-width space', 'a\u200bb', 'itemId contains an invisible format character (zero-width or bidirectional); remove it (received "a\\u200bb")'],
    ['an unpaired surrogate', 'a\ud800b', 'itemId contains an unpaired UTF-16 surrogate; send valid Unicode (received "a\\ud800b")'],
  ])('shows an id with %s escaped', (_case, itemId, message) => {
    const result = validateInteraction(tap({ itemId }), options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.message).toBe(message);
  });

  it.each([
    ['sessionId', ' 42', 'sessionId starts with whitespace (" "); send the id without the surrounding whitespace (received " 42")'],
    ['itemId', '7 ', 'itemId ends with whitespace (" "); send the id without the surrounding whitespace (received "7 ")'],
    ['userId', '\tu1', 'userId starts with whitespace ("\\t"); send the id without the surrounding whitespace (received "\\tu1")'],
    ['eventId', 'e1\u00a0', 'eventId ends with whitespace ("\\u00a0"); send the id without the surrounding whitespace (received "e1\\u00a0")'],
    ['feedId', ' f1 ', 'feedId starts and ends with whitespace (" " and " "); send the id without the surrounding whitespace (received " f1 ")'],
  ])('rejects %s with surrounding whitespace', (field, value, message) => {
    const result = validateInteraction(tap({ [field]: value }), options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection).toEqual({ code: REJECTION_REASONS.invalidField, field, message });
  });

  it('keeps spaces inside ids', () => {
    const result = validateInteraction(tap({ sessionId: 's 1', itemId: 'New York' }), options);
    expect(result).toEqual({ ok: true, value: tap({ sessionId: 's 1', itemId: 'New York' }) });
  });

  it('escapes invisible characters in any shown value', () => {
    const result = validateInteraction(tap({ position: '1\u202e\u00a0\u2028' }), options);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.message).toMatch(/ \(received "1\\u202e\\u00a0\\u2028"\)$/);
  });

  it('rejects an interaction time before 1973', () => {
    expect(validateInteraction(tap({ ts: -1 }), options).ok).toBe(false);
    expect(validateInteraction(tap({ ts: '1960-01-01T00:00:00Z' }), options).ok).toBe(false);
  });

  it('rejects an event over the size limit as too large', () => {
    // 32 values of 128 four-byte characters: within every per-field limit, 16 KiB in all.
    const context = Object.fromEntries(Array.from({ length: 32 }, (_, index) => [`key-${index}`, '\u{1F600}'.repeat(128)]));
    const result = validateInteraction(tap({ context }), options);
    expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.tooLarge);
  });

  it('rejects negative dwell with the field name', () => {
    const result = validateInteraction(tap({ dwellMs: -5 }), options);
    expect(result.ok || result.rejection.field).toBe('dwellMs');
  });

  it('names an out-of-range value in the message', () => {
    const dwell = validateInteraction(tap({ dwellMs: -5 }), options);
    expect(dwell.ok || dwell.rejection.message).toBe('dwellMs must be a whole number of milliseconds from 0 to 86400000 (24 hours), such as 4500 (received -5)');
    const position = validateInteraction(tap({ position: 10_001 }), options);
    expect(position.ok || position.rejection.message).toMatch(/\(received 10001\)$/);
  });

  it('rejects a non-object', () => {
    expect(validateInteraction([1, 2], options).ok).toBe(false);
    expect(validateInteraction('tap', options).ok).toBe(false);
  });

  it('names a non-object event and shows an example', () => {
    const example = '{"eventId":"e1","type":"tap","ts":1767268800000,"sessionId":"s1","itemId":"i1"}';
    for (const [raw, shown] of [[null, 'null'], [1, '1'], ['tap', '"tap"'], [[], '[]']] as const) {
      const result = validateInteraction(raw, options);
      expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.notAnObject);
      expect(result.ok || result.rejection.message).toBe(`an event must be a JSON object, such as ${example} (received ${shown})`);
    }
  });

  it('shows a non-finite number as sent', () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ dwellMs: Infinity }, 'dwellMs', '(received Infinity)'],
      [{ position: -Infinity }, 'position', '(received -Infinity)'],
      [{ value: Infinity }, 'value', 'value must be a finite number, such as 4.5 (received Infinity)'],
      [{ value: Number.NaN }, 'value', '(received NaN)'],
      [{ itemId: Infinity }, 'itemId', '(received Infinity)'],
      [{ context: { a: Infinity } }, 'context.a', 'context.a must be a string of at most 256 characters, a finite number or a boolean (received Infinity)'],
      [{ context: { a: [1, -Infinity] } }, 'context.a', '(received [1,-Infinity])'],
      [{ type: Infinity }, 'type', 'type Infinity is not an interaction type'],
      [{ ts: Infinity }, 'ts', 'ts Infinity is not an integer'],
    ];
    for (const [overrides, field, shown] of cases) {
      const result = validateInteraction(tap(overrides), options);
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.rejection.field).toBe(field);
      expect(result.rejection.message).toContain(shown);
      expect(result.rejection.message).not.toContain('null');
    }
  });

  it('names an invalid time of day in ts', () => {
    const result = validateInteraction(tap({ ts: '2026-06-01T25:00:00Z' }), options);
    expect(result.ok || result.rejection.field).toBe('ts');
    expect(result.ok || result.rejection.message).toMatch(/^ts "2026-06-01T25:00:00Z" has an invalid time of day, because hour 25 does not exist; /);
  });

  it('names a null ts with an example', () => {
    const result = validateInteraction(tap({ ts: null }), options);
    expect(result.ok || result.rejection.message).toBe(
      'ts must be epoch milliseconds (a number) or an ISO-8601 date-time string with a zone, such as 1714564800000 or "2024-05-01T12:00:00Z" (received null)',
    );
  });
});

describe('decodeInteraction', () => {
  it('rejects malformed JSON', () => {
    const result = decodeInteraction(Buffer.from('{"eventId":'), options);
    expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.invalidJson);
  });

  it('rejects an oversized record before parsing', () => {
    const result = decodeInteraction(Buffer.alloc(MAX_EVENT_BYTES + 1, 0x20), options);
    expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.tooLarge);
  });

  it('accepts a serialised tap', () => {
    expect(decodeInteraction(JSON.stringify(tap()), options).ok).toBe(true);
  });
});

describe('validateCatalogItem', () => {
  it('removes repeated categories', () => {
    const result = validateCatalogItem({ itemId: 'm-1', categories: ['Drama', 'Drama', 'War'] });
    expect(result.ok && result.value.categories).toEqual(['Drama', 'War']);
  });

  it('rejects an unknown kind with the accepted list', () => {
    const result = validateCatalogItem({ itemId: 'm-1', categories: [], kind: 'podcast' });
    expect(result.ok || result.rejection.message).toContain('video, live, music, movie, poll, event');
  });

  it.each([
    [{ categories: ['Drama', ''] }, 'categories.1', 'categories.1 is empty or only whitespace; send a string id of 1 to 128 characters, such as "a1b2c3" (received "")'],
    [{ categories: ['Drama', 'War '] }, 'categories.1', 'categories.1 ends with whitespace (" "); send the id without the surrounding whitespace (received "War ")'],
    [{ categories: [], tags: [7] }, 'tags.0', 'tags.0 must be a string id of 1 to 128 characters, such as "a1b2c3" (received 7)'],
  ])('names the list element in %j', (fields, field, message) => {
    const result = validateCatalogItem({ itemId: 'm-1', ...fields });
    expect(result.ok || result.rejection.field).toBe(field);
    expect(result.ok || result.rejection.message).toBe(message);
  });

  it('names a wrong kind once', () => {
    for (const [kind, shown] of [['podcast', '"podcast"'], [null, 'null'], [7, '7'], [Infinity, 'Infinity']] as const) {
      const result = validateCatalogItem({ itemId: 'm-1', categories: [], kind });
      expect(result.ok || result.rejection.field).toBe('kind');
      expect(result.ok || result.rejection.message).toBe(`kind must be one of video, live, music, movie, poll, event, such as "movie" (received ${shown})`);
    }
  });

  it('bounds durationMs at 366 days', () => {
    const longest = validateCatalogItem({ itemId: 'm-1', categories: [], durationMs: MAX_DURATION_MS });
    expect(longest.ok).toBe(true);
    expect(longest.ok ? longest.value.durationMs : undefined).toBe(31_622_400_000);
    for (const [durationMs, shown] of [[MAX_DURATION_MS + 1, '31622400001'], [Number('9007199254740993'), '9007199254740992'], [1e300, '1e+300']] as const) {
      const result = validateCatalogItem({ itemId: 'm-1', categories: [], durationMs });
      expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.invalidField);
      expect(result.ok || result.rejection.message).toBe(
        `durationMs must be a whole number of milliseconds from 0 to 31622400000 (366 days), such as 5400000 for 90 minutes (received ${shown})`,
      );
    }
  });

  it('shows a non-finite number as sent', () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ durationMs: Infinity }, 'durationMs', '(received Infinity)'],
      [{ durationMs: -Infinity }, 'durationMs', '(received -Infinity)'],
      [{ durationMs: Number.NaN }, 'durationMs', '(received NaN)'],
      [{ title: Infinity }, 'title', '(received Infinity)'],
      [{ live: -Infinity }, 'live', '(received -Infinity)'],
      [{ categories: [Infinity] }, 'categories.0', '(received Infinity)'],
      [{ categories: Infinity }, 'categories', '(received Infinity)'],
      [{ publishedAt: Infinity }, 'publishedAt', 'publishedAt Infinity is not an integer'],
    ];
    for (const [fields, field, shown] of cases) {
      const result = validateCatalogItem({ itemId: 'm-1', categories: [], ...fields });
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.rejection.field).toBe(field);
      expect(result.rejection.message).toContain(shown);
      expect(result.rejection.message).not.toContain('null');
    }
  });

  it('names a non-object item and shows an example', () => {
    for (const [raw, shown] of [[null, 'null'], [1, '1'], ['x', '"x"'], [[], '[]']] as const) {
      const result = validateCatalogItem(raw);
      expect(result.ok || result.rejection.code).toBe(REJECTION_REASONS.notAnObject);
      expect(result.ok || 'field' in result.rejection).toBe(false);
      expect(result.ok || result.rejection.message).toBe(`a catalog item must be a JSON object, such as {"itemId":"i1","categories":["drama"]} (received ${shown})`);
    }
  });

  it('names a null publishedAt with an example', () => {
    const result = validateCatalogItem({ itemId: 'm-1', categories: [], publishedAt: null });
    expect(result.ok || result.rejection.field).toBe('publishedAt');
    expect(result.ok || result.rejection.message).toBe(
      'publishedAt must be epoch milliseconds (a number) or an ISO-8601 date-time string with a zone, such as 1714564800000 or "2024-05-01T12:00:00Z" (received null)',
    );
  });

  it('requires categories', () => {
    const result = validateCatalogItem({ itemId: 'm-1' });
    expect(result.ok || result.rejection.field).toBe('categories');
  });

  it('lists the accepted fields for an unknown one', () => {
    const result = validateCatalogItem({ itemId: 'm-1', categories: [], context: { a: 1 } });
    expect(result.ok || result.rejection.code).toBe('EVENT_UNKNOWN_FIELD');
    expect(result.ok || result.rejection.message).toContain('unknown field context; remove it; a catalog item takes only itemId, categories');
    expect(result.ok || result.rejection.message).not.toContain('under context');
  });

  it.each([
    ['categories as a string', { categories: 'Drama' }, 'categories', 'categories must be an array of up to 16 category ids, such as ["drama"], or [] for none'],
    ['no categories', {}, 'categories', 'categories is missing; send an array of up to 16 category ids, such as ["drama"], or [] for none'],
    ['17 categories', { categories: Array.from({ length: 17 }, (_, index) => `c${index}`) }, 'categories', 'keep the 16 that describe the item best'],
    ['tags as a string', { categories: [], tags: 'classic' }, 'tags', 'tags must be an array of up to 64 tag ids, such as ["award-winner"]'],
    ['a numeric title', { categories: [], title: 7 }, 'title', 'title must be a string of at most 512 characters, such as "Casablanca"'],
    ['a long title', { categories: [], title: 'x'.repeat(513) }, 'title', 'title has more than 512 characters; shorten it to at most 512'],
    ['live as a string', { categories: [], live: 'yes' }, 'live', 'live must be true or false, such as "live": true'],
    ['a negative duration', { categories: [], durationMs: -1 }, 'durationMs', 'durationMs must be a whole number of milliseconds from 0 to 31622400000 (366 days), such as 5400000 for 90 minutes (received -1)'],
  ])('names the fix for %s', (_case, fields, field, message) => {
    const result = validateCatalogItem({ itemId: 'm-1', ...fields });
    expect(result.ok || result.rejection.field).toBe(field);
    expect(result.ok || result.rejection.message).toContain(message);
  });
});

describe('parseTimestamp', () => {
  it('accepts every millisecond time between 1973 and 2100', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100_000_000_000, max: 4_102_444_800_000 }), (ms) => {
        const parsed = parseTimestamp(ms);
        return parsed.ok && parsed.ms === ms;
      }),
    );
  });

  it('flags every plausible seconds value as epoch seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 99_999_999_999 }), (seconds) => {
        const parsed = parseTimestamp(seconds);
        return !parsed.ok && parsed.epochSeconds;
      }),
    );
  });

  it('suggests only values that are accepted', () => {
    // A rejection that proposes a number in milliseconds must propose one that parses.
    const suggestion = /(?:send epoch milliseconds \((-?\d+)\)|which is (-?\d+) in milliseconds)/;
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 99_999_999_999 }), fc.double({ min: 4e12, max: 1e22, noNaN: true }).map(Math.round)),
        (value) => {
          const parsed = parseTimestamp(value);
          const match = parsed.ok ? null : suggestion.exec(parsed.message);
          if (match !== null) {
            expect(parseTimestamp(Number(match[1] ?? match[2])).ok).toBe(true);
          }
        },
      ),
      { numRuns: 5000 },
    );
    const small = parseTimestamp(123);
    expect(small.ok ? '' : small.message).toContain('send it as an ISO-8601 string');
    const micro = parseTimestamp(99_999_999_999_000);
    expect(micro.ok ? '' : micro.message).not.toContain('in milliseconds');
  });

  it('round-trips ISO-8601 strings of valid dates', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1980-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }), (date) => {
        const parsed = parseTimestamp(date.toISOString());
        return parsed.ok && parsed.ms === date.getTime();
      }),
    );
  });

  it('accepts dates before 1970 as negative milliseconds', () => {
    expect(parseTimestamp('1939-01-01T00:00:00Z')).toEqual({ ok: true, ms: Date.UTC(1939, 0, 1) });
    expect(parseTimestamp(Date.UTC(1939, 0, 1))).toEqual({ ok: true, ms: Date.UTC(1939, 0, 1) });
    expect(parseTimestamp(0).ok).toBe(false);
  });

  it.each([
    ['2026-02-30T00:00:00Z', '2026-02 has no day 30'],
    ['2026-13-45T09:00:00Z', 'month 13 does not exist'],
    ['2026-00-10T09:00:00Z', 'month 00 does not exist'],
  ])('names the missing day or month in %s', (value, problem) => {
    const parsed = parseTimestamp(value);
    expect(parsed.ok || parsed.message).toBe(`"${value}" names a day that does not exist (${problem}); check the month and day`);
  });

  it.each([
    ['2016-12-31T23:59:60Z', 'second 60, a leap second, is not accepted'],
    ['2024-05-01T25:00:00Z', 'hour 25 does not exist'],
    ['2024-05-01T12:60:00Z', 'minute 60 does not exist'],
    ['2024-05-01T12:00:61Z', 'second 61 does not exist'],
    ['2024-05-01T24:00:01Z', 'hour 24 is accepted only as 24:00:00, the end of the day'],
    ['2024-05-01T24:30Z', 'hour 24 is accepted only as 24:00:00, the end of the day'],
    ['2024-05-01T24:00:00.001Z', 'hour 24 is accepted only as 24:00:00, the end of the day'],
  ])('names an invalid time of day in %s', (value, problem) => {
    const parsed = parseTimestamp(value);
    expect(parsed.ok || parsed.message).toBe(
      `"${value}" has an invalid time of day, because ${problem}; send the hour from 00 to 23 and the minute and second from 00 to 59, ` +
        'such as 2024-05-01T12:00:00Z (24:00:00 is also accepted, as the end of the day)',
    );
  });

  it('accepts 24:00 as the end of the day', () => {
    expect(parseTimestamp('2024-05-01T24:00:00Z')).toEqual({ ok: true, ms: Date.UTC(2024, 4, 2) });
    expect(parseTimestamp('2024-05-01T24:00Z')).toEqual({ ok: true, ms: Date.UTC(2024, 4, 2) });
    expect(parseTimestamp('2024-05-01T24:00:00.000Z')).toEqual({ ok: true, ms: Date.UTC(2024, 4, 2) });
  });

  it.each(['+25:00', '+24:00', '-24:00', '+12:60', '+0560', '-9999'])('names an invalid zone offset %s', (offset) => {
    const value = `2024-05-01T12:00:00${offset}`;
    const parsed = parseTimestamp(value);
    expect(parsed.ok || parsed.message).toBe(
      `"${value}" has an invalid zone offset ${offset}; send Z or an offset from -23:59 to +23:59, such as 2024-05-01T14:00:00+02:00`,
    );
  });

  it('agrees with Date.parse on times', () => {
    const twoDigits = fc.integer({ min: 0, max: 99 }).map((value) => String(value).padStart(2, '0'));
    const dateTime = fc
      .record({
        day: fc.integer({ min: 1, max: 28 }).map((value) => String(value).padStart(2, '0')),
        hour: twoDigits,
        minute: twoDigits,
        second: fc.oneof(fc.constant(''), twoDigits.map((value) => `:${value}`)),
        fraction: fc.constantFrom('', '.0', '.000', '.5', '.000000001'),
        zone: fc.oneof(fc.constantFrom('Z', 'z'), fc.tuple(fc.constantFrom('+', '-'), twoDigits, fc.constantFrom(':', ''), twoDigits).map((parts) => parts.join(''))),
      })
      .map(({ day, hour, minute, second, fraction, zone }) => `2024-05-${day}T${hour}:${minute}${second}${second === '' ? '' : fraction}${zone}`);
    fc.assert(
      fc.property(dateTime, (value) => {
        const parsed = parseTimestamp(value);
        expect(parsed.ok).toBe(Number.isFinite(Date.parse(value.toUpperCase())));
      }),
      { numRuns: 5000 },
    );
  });

  it('rejects year 0050 as out of range', () => {
    const parsed = parseTimestamp('0050-01-01T00:00:00Z');
    expect(parsed.ok || parsed.message).toContain('is outside the accepted range');
  });

  it('accepts a lowercase zone designator', () => {
    expect(parseTimestamp('2026-02-03t04:05:06z')).toEqual({ ok: true, ms: Date.UTC(2026, 1, 3, 4, 5, 6) });
  });

  it('rejects fractions, NaN and strings without a zone', () => {
    expect(parseTimestamp(1.7e12 + 0.5).ok).toBe(false);
    expect(parseTimestamp(Number.NaN).ok).toBe(false);
    expect(parseTimestamp('2024-05-01T12:00:00').ok).toBe(false);
    expect(parseTimestamp(null).ok).toBe(false);
  });
});
