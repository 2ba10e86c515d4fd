import fc from 'fast-check';

/**
 * fast-check arbitraries for the HTTP fuzz test: request bodies that are mostly well formed, with
 * each field sometimes at a boundary, of the wrong type, missing or unknown, plus raw bytes that
 * are not JSON at all. Valid values dominate so that the checks past the first field also run.
 */

/** Marks a field to leave out of the generated object. */
const MISSING = Symbol('missing');
type Maybe<T> = T | typeof MISSING;

/** A value of any JSON type, for fields that expect another type. */
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

/** Picks a valid value most of the time, else a boundary value, a wrong type or nothing. */
function field<T>(valid: fc.Arbitrary<T>, boundary: fc.Arbitrary<unknown>, options: { required: boolean }): fc.Arbitrary<Maybe<unknown>> {
  return fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 3, arbitrary: boundary },
    { weight: 1, arbitrary: wrongType },
    { weight: options.required ? 1 : 6, arbitrary: fc.constant(MISSING) },
  );
}

/** Drops the fields marked missing, so the object is what JSON.stringify sends. */
function present(record: Record<string, Maybe<unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== MISSING));
}

/** Ids: plain ones, and the edges of the id rules (length 128 and 129, NFC, control and invisible characters). */
export const idValue = fc.oneof(
  { weight: 10, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,15}$/) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '',
      '   ',
      ' 42',
      '42 ',
      '\t42\u00a0',
      'a b',
      'x'.repeat(128),
      'x'.repeat(129),
      'e\u0301',
      'é'.repeat(128),
      'a\u0000b',
      'a\u007fb',
      'a\u200bb',
      'a\u202eb',
      '\ud800',
      '\udc00x',
      '😀'.repeat(64),
      '😀'.repeat(65),
      '__proto__',
      'constructor',
      '{tag}',
      's:{x}:event:y',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 140 }) },
);

const nowMs = Date.now();

/** Event times: recent milliseconds and ISO strings, and epoch seconds, the far future, the far past and non-dates. */
export const timestampValue = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: nowMs - 3_600_000, max: nowMs }) },
  { weight: 3, arbitrary: fc.integer({ min: nowMs - 3_600_000, max: nowMs }).map((ms) => new Date(ms).toISOString()) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      Math.floor(nowMs / 1000),
      nowMs + 86_400_000,
      0,
      -1,
      1e11,
      99_999_999_999,
      4_102_444_800_001,
      1.5e12 + 0.5,
      1e308,
      '2024-02-30T00:00:00Z',
      '2016-12-31T23:59:60Z',
      '2024-05-01T24:00:00Z',
      '2024-05-01T25:00:00Z',
      '2024-05-01T12:00:00+25:00',
      '2024-05-01T12:00:00',
      '2024-05-01',
      'now',
      '',
      '1700000000000',
    ),
  },
);

const interactionType = fc.constantFrom('impression', 'tap', 'play', 'complete', 'skip', 'like', 'share', 'comment', 'hide');

const contextValue = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean()), { maxKeys: 4 }),
  fc.constantFrom(
    Object.fromEntries(Array.from({ length: 33 }, (_, index) => [`k${index}`, index])),
    { ['k'.repeat(65)]: 1 },
    { note: 'v'.repeat(257) },
    { nested: { deeper: 1 } },
    { list: [1, 2] },
    { big: 'v'.repeat(256), other: 'w'.repeat(256) },
  ),
);

/** One interaction as a client might send it. */
export const interactionValue = fc
  .record({
    eventId: field(idValue, fc.constant('x'.repeat(129)), { required: true }),
    type: field(interactionType, fc.constantFrom('click', 'TAP', '', 'constructor'), { required: true }),
    ts: field(timestampValue, fc.constantFrom(Math.floor(nowMs / 1000), 'yesterday'), { required: true }),
    sessionId: field(idValue, fc.constant(''), { required: true }),
    itemId: field(idValue, fc.constant('x'.repeat(200)), { required: true }),
    userId: field(idValue, fc.constant(' '), { required: false }),
    dwellMs: field(fc.integer({ min: 0, max: 600_000 }), fc.constantFrom(-1, 86_400_001, 1.5, 86_400_000), { required: false }),
    position: field(fc.integer({ min: 0, max: 50 }), fc.constantFrom(-1, 10_000, 10_001, 0.5), { required: false }),
    feedId: field(idValue, fc.constant('\u0000'), { required: false }),
    value: field(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(1e308, -1e308), { required: false }),
    context: field(contextValue, fc.constant([]), { required: false }),
    extra: fc.oneof({ weight: 20, arbitrary: fc.constant(MISSING) }, { weight: 1, arbitrary: fc.string() }),
  })
  .map(present);

/** One catalog item as a client might send it. */
export const catalogItemValue = fc
  .record({
    itemId: field(idValue, fc.constant('x'.repeat(129)), { required: true }),
    categories: field(fc.array(idValue, { maxLength: 4 }), fc.constantFrom(Array.from({ length: 17 }, (_, index) => `c${index}`), ['a', 'a'], [1]), { required: true }),
    creatorId: field(idValue, fc.constant(''), { required: false }),
    tags: field(fc.array(idValue, { maxLength: 4 }), fc.constant(Array.from({ length: 65 }, (_, index) => `t${index}`)), { required: false }),
    kind: field(fc.constantFrom('video', 'live', 'music', 'movie', 'poll', 'event'), fc.constantFrom('podcast', 'VIDEO'), { required: false }),
    title: field(fc.string({ maxLength: 40 }), fc.constantFrom('t'.repeat(512), 't'.repeat(513)), { required: false }),
    live: field(fc.boolean(), fc.constantFrom('true', 1), { required: false }),
    publishedAt: field(timestampValue, fc.constantFrom(-5_364_662_400_001, '1799-12-31T23:59:59Z'), { required: false }),
    durationMs: field(fc.integer({ min: 0, max: 10_800_000 }), fc.constantFrom(-1, 0.5, 31_622_400_000, 31_622_400_001, 1e300), { required: false }),
    extra: fc.oneof({ weight: 20, arbitrary: fc.constant(MISSING) }, { weight: 1, arbitrary: fc.string() }),
  })
  .map(present);

/** Builds lists of entries, including the list field's boundaries: empty, the maximum and one past it. */
function listOf(entry: fc.Arbitrary<unknown>, maxEntries: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    // A full list costs about 100 times a short one to validate, so about 1 request in 100 sends one.
    { weight: 100, arbitrary: fc.array(entry, { minLength: 1, maxLength: 6 }) },
    { weight: 4, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: entry.map((value) => Array.from({ length: maxEntries }, () => value)) },
    { weight: 1, arbitrary: entry.map((value) => Array.from({ length: maxEntries + 1 }, () => value)) },
    { weight: 4, arbitrary: fc.array(wrongType, { minLength: 1, maxLength: 3 }) },
    { weight: 4, arbitrary: wrongType },
  );
}

/** A body for `POST /v1/events`: mostly `{events: [...]}`, sometimes another shape or an unknown key. */
export const eventsBody = fc.oneof(
  { weight: 20, arbitrary: listOf(interactionValue, 500).map((events) => ({ events })) },
  { weight: 1, arbitrary: fc.record({ events: fc.array(interactionValue, { maxLength: 2 }), extra: fc.jsonValue() }) },
  { weight: 1, arbitrary: fc.jsonValue() },
);

/** A body for `POST /v1/catalog`. */
export const catalogBody = fc.oneof(
  { weight: 20, arbitrary: listOf(catalogItemValue, 500).map((items) => ({ items })) },
  { weight: 1, arbitrary: fc.record({ items: fc.array(catalogItemValue, { maxLength: 2 }), extra: fc.jsonValue() }) },
  { weight: 1, arbitrary: fc.jsonValue() },
);

const itemIds = fc.oneof(
  { weight: 10, arbitrary: fc.array(idValue, { minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom([], Array.from({ length: 1_000 }, (_, index) => String(index))) },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 1_001 }, (_, index) => String(index))) },
);

const cursorValue = fc.oneof(
  fc.base64String({ maxLength: 100 }),
  fc.string({ maxLength: 300 }),
  fc.uuid().map((feedId) => Buffer.from(`v1.${feedId}.20`).toString('base64url')),
  fc.uuid().map((feedId) => Buffer.from(`v1.${feedId}.-1`).toString('base64url')),
  fc.constant(''),
);

/** A body for `POST /v1/feed`. */
export const feedBody = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .record({
        sessionId: field(idValue, fc.constant(''), { required: true }),
        userId: field(idValue, fc.constant('x'.repeat(129)), { required: false }),
        limit: field(fc.integer({ min: 1, max: 100 }), fc.constantFrom(0, 101, 1.5, -1, '20'), { required: false }),
        candidates: field(itemIds, fc.constant('1,2'), { required: false }),
        exclude: field(itemIds, fc.constant('1'), { required: false }),
        cursor: field(cursorValue, fc.constant('x'.repeat(257)), { required: false }),
        explain: field(fc.boolean(), fc.constant('true'), { required: false }),
        includeCatalog: field(fc.boolean(), fc.constant(1), { required: false }),
        extra: fc.oneof({ weight: 20, arbitrary: fc.constant(MISSING) }, { weight: 1, arbitrary: fc.string() }),
      })
      .map(present),
  },
  { weight: 1, arbitrary: fc.jsonValue() },
);

/** Query parameters for `GET /v1/feed/live`, as the strings a query carries. */
export const liveFeedQuery = fc
  .record({
    sessionId: field(idValue, fc.constant(''), { required: true }),
    userId: field(idValue, fc.constant('x'.repeat(129)), { required: false }),
    limit: field(fc.integer({ min: 1, max: 100 }).map(String), fc.constantFrom('0', '101', '1.5', 'ten', ''), { required: false }),
    includeCatalog: field(fc.constantFrom('true', 'false'), fc.constantFrom('yes', '1', ''), { required: false }),
    extra: fc.oneof({ weight: 8, arbitrary: fc.constant(MISSING) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }),
  })
  .map((record) => Object.fromEntries(Object.entries(present(record)).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)])));

/** How the body travels: as JSON with one of several content types, or as raw text that is often not JSON. */
export interface WireBody {
  contentType: string | undefined;
  payload: string;
}

const jsonContentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON');

/** Wraps a body arbitrary into mostly JSON payloads, plus broken JSON, deep nesting and other media types. */
export function onTheWire(body: fc.Arbitrary<unknown>): fc.Arbitrary<WireBody> {
  return fc.oneof(
    { weight: 30, arbitrary: fc.record({ contentType: jsonContentType, payload: body.map((value) => JSON.stringify(value) ?? 'null') }) },
    {
      weight: 2,
      arbitrary: fc.record({
        contentType: jsonContentType,
        payload: fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          body.map((value) => (JSON.stringify(value) ?? '').slice(0, -1)),
          fc.constantFrom('', '{', '{"events": [', '[]', 'null', '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {"x": 1}}}'),
          fc.integer({ min: 1, max: 20_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        contentType: fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/jsonx'),
        payload: body.map((value) => JSON.stringify(value) ?? ''),
      }),
    },
  );
}
