import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interactionValue } from '../../../test/fuzz-arbitraries';
import { interactionSchema, INTERACTION_TYPES, validateInteraction } from '../src/index';
import { parsePlainInteraction } from '../src/plain-interaction';

const NOW_MS = Date.parse('2026-06-01T12:00:00Z');

/** Ids of printable ASCII, including the edges: spaces around, quotes, backslashes, 128 characters. */
const asciiId = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 128 }),
  fc.constantFrom(' a', 'a ', '"', '\\', '~'.repeat(128), 'x'.repeat(129), ' ', '   '),
);

/** Interactions of the plain form with every optional field sometimes present, and some just outside it. */
const plainCandidate = fc.record(
  {
    eventId: asciiId,
    type: fc.oneof(fc.constantFrom(...INTERACTION_TYPES), fc.constantFrom('TAP', 'toString', '')),
    ts: fc.oneof(fc.integer({ min: 1e11 - 2, max: 4_102_444_800_002 }), fc.constantFrom(1e11, 1.5e12 + 0.5, -1, 0)),
    sessionId: asciiId,
    itemId: asciiId,
    userId: asciiId,
    dwellMs: fc.oneof(fc.integer({ min: -1, max: 86_400_001 }), fc.constantFrom(-0, 0.5)),
    position: fc.integer({ min: -1, max: 10_001 }),
    feedId: asciiId,
    value: fc.oneof(fc.double(), fc.integer()),
  },
  { requiredKeys: ['eventId', 'type', 'ts', 'sessionId', 'itemId'] },
);

/** Checks that the plain check agrees with the schema wherever it returns a value. */
function expectAgreement(raw: Record<string, unknown>): void {
  const plain = parsePlainInteraction(raw);
  if (plain === undefined) {
    return;
  }
  const parsed = interactionSchema.safeParse(raw);
  expect(parsed.success).toBe(true);
  expect(plain).toStrictEqual(parsed.data);
  expect(Object.keys(plain)).toEqual(Object.keys(parsed.data ?? {}));
}

describe('parsePlainInteraction', () => {
  it('agrees with the schema on plain candidates', () => {
    fc.assert(fc.property(plainCandidate, (raw) => expectAgreement(raw)), { numRuns: 5000 });
  });

  it('agrees with the schema on fuzzed events', () => {
    fc.assert(fc.property(interactionValue, (raw) => expectAgreement(raw as Record<string, unknown>)), { numRuns: 5000 });
  });

  it('accepts schema-valid events without context', () => {
    fc.assert(
      fc.property(plainCandidate, (raw) => {
        const parsed = interactionSchema.safeParse(raw);
        if (parsed.success) {
          expect(parsePlainInteraction(raw)).toStrictEqual(parsed.data);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('leaves context, ISO times and non-ASCII ids to the schema', () => {
    const tap = { eventId: 'e-1', type: 'tap', ts: NOW_MS, sessionId: 's-1', itemId: 'i-1' };
    expect(parsePlainInteraction(tap)).toStrictEqual(tap);
    expect(parsePlainInteraction({ ...tap, context: { screen: 'home' } })).toBeUndefined();
    expect(parsePlainInteraction({ ...tap, ts: new Date(NOW_MS).toISOString() })).toBeUndefined();
    expect(parsePlainInteraction({ ...tap, itemId: 'é' })).toBeUndefined();
    expect(parsePlainInteraction({ ...tap, userId: undefined })).toBeUndefined();
    expect(parsePlainInteraction({ ...tap, extra: 1 })).toBeUndefined();
  });

  it('keeps the lateness and future rules', () => {
    const tap = { eventId: 'e-1', type: 'tap', sessionId: 's-1', itemId: 'i-1' };
    const late = validateInteraction({ ...tap, ts: NOW_MS - 10_000 }, { nowMs: NOW_MS, maxLatenessMs: 5_000 });
    expect(late.ok ? undefined : late.rejection.code).toBe('EVENT_TOO_LATE');
    const future = validateInteraction({ ...tap, ts: NOW_MS + 600_000 }, { nowMs: NOW_MS });
    expect(future.ok ? undefined : future.rejection.code).toBe('EVENT_FUTURE_TIMESTAMP');
  });
});
