import { z } from 'zod';
import { catalogItemSchema, type CatalogItem } from './catalog';
import { describeValue } from './describe-value';
import { interactionSchema, MAX_CONTEXT_VALUE_LENGTH, type Interaction } from './interaction';
import { parsePlainCatalogItem } from './plain-catalog-item';
import { parsePlainInteraction } from './plain-interaction';

/**
 * Stable reason codes of a rejected event. Clients and the dead-letter topic carry these; branch on
 * them, never on the message text.
 */
export const REJECTION_REASONS = {
  invalidJson: 'EVENT_INVALID_JSON',
  notAnObject: 'EVENT_NOT_AN_OBJECT',
  tooLarge: 'EVENT_TOO_LARGE',
  missingField: 'EVENT_MISSING_FIELD',
  unknownField: 'EVENT_UNKNOWN_FIELD',
  unknownType: 'EVENT_UNKNOWN_TYPE',
  epochSeconds: 'EVENT_EPOCH_SECONDS',
  futureTimestamp: 'EVENT_FUTURE_TIMESTAMP',
  tooLate: 'EVENT_TOO_LATE',
  invalidField: 'EVENT_INVALID_FIELD',
} as const;

export type RejectionCode = (typeof REJECTION_REASONS)[keyof typeof REJECTION_REASONS];

/** Why one event was rejected: a stable code, the field at fault and a message that says the fix. */
export interface Rejection {
  code: RejectionCode;
  /** The path of the field at fault; absent when the whole entry is, as for an entry that is not an object. */
  field?: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

export interface ValidationOptions {
  /** Current time in epoch milliseconds, used to reject events from the future. */
  nowMs: number;
  /** How far ahead of `nowMs` an event time may be, to allow for client clock skew. Default 300000 (5 min). */
  maxFutureSkewMs?: number;
  /**
   * How far behind `nowMs` an event time may be; older events are rejected. Unset accepts any age.
   * Ingest keeps it within the eventId de-duplication window, so a redelivered event is always
   * recognised.
   */
  maxLatenessMs?: number;
}

/** Maximum size of one serialised event, in bytes. Larger records are rejected before parsing. */
export const MAX_EVENT_BYTES = 16_384;

const DEFAULT_MAX_FUTURE_SKEW_MS = 300_000;

/** Wording of the rejection messages of one kind of entry. */
interface EntryWording {
  /** The entry with its article, such as "an event". */
  name: string;
  /** A valid entry as one line of JSON, shown when an entry is not a JSON object. */
  example: string;
  /** The fix that the message of an unknown field gives. */
  unknownFieldFix: string;
}

const INTERACTION_WORDING: EntryWording = {
  name: 'an event',
  example: '{"eventId":"e1","type":"tap","ts":1767268800000,"sessionId":"s1","itemId":"i1"}',
  unknownFieldFix: 'remove it or put app data under context',
};

const CATALOG_ITEM_WORDING: EntryWording = {
  name: 'a catalog item',
  example: '{"itemId":"i1","categories":["drama"]}',
  unknownFieldFix: `remove it; a catalog item takes only ${Object.keys(catalogItemSchema.shape).join(', ')}`,
};

/** Validates one interaction from a client or a topic and normalises it. */
export function validateInteraction(raw: unknown, options: ValidationOptions): Validated<Interaction> {
  const plain = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? parsePlainInteraction(raw as Record<string, unknown>) : undefined;
  const result: Validated<Interaction> = plain === undefined ? validateWith(interactionSchema, raw, INTERACTION_WORDING) : { ok: true, value: plain };
  if (!result.ok) {
    return result;
  }
  // A plain interaction is always far below the limit (see parsePlainInteraction).
  const size = plain === undefined ? Buffer.byteLength(JSON.stringify(result.value)) : 0;
  if (size > MAX_EVENT_BYTES) {
    return reject(REJECTION_REASONS.tooLarge, '', `the event is ${size} bytes as JSON; the maximum is ${MAX_EVENT_BYTES}, so shorten context`);
  }
  const skewMs = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  if (result.value.ts > options.nowMs + skewMs) {
    const aheadSeconds = Math.round((result.value.ts - options.nowMs) / 1000);
    return reject(
      REJECTION_REASONS.futureTimestamp,
      'ts',
      `ts ${result.value.ts} is ${aheadSeconds} s in the future; the limit is ${skewMs / 1000} s, so check the client clock`,
    );
  }
  if (options.maxLatenessMs !== undefined && result.value.ts < options.nowMs - options.maxLatenessMs) {
    const behindSeconds = Math.round((options.nowMs - result.value.ts) / 1000);
    return reject(
      REJECTION_REASONS.tooLate,
      'ts',
      `ts ${result.value.ts} is ${behindSeconds} s old; events older than ${options.maxLatenessMs / 1000} s are not applied, because their eventId may no longer be recognised as a repeat. ` +
        'Send events within that window; to load older history once, run ingest with a larger MAX_EVENT_LATENESS_MS',
    );
  }
  return result;
}

/** Validates one catalog record and normalises it. */
export function validateCatalogItem(raw: unknown): Validated<CatalogItem> {
  const plain = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? parsePlainCatalogItem(raw as Record<string, unknown>) : undefined;
  if (plain !== undefined) {
    return { ok: true, value: plain };
  }
  return validateWith(catalogItemSchema, raw, CATALOG_ITEM_WORDING);
}

/** Decodes a serialised record (a Kafka message value) and validates it as an interaction. */
export function decodeInteraction(bytes: Buffer | string | null, options: ValidationOptions): Validated<Interaction> {
  const parsed = decodeJson(bytes);
  return parsed.ok ? validateInteraction(parsed.value, options) : parsed;
}

/** Decodes a serialised record (a Kafka message value) and validates it as a catalog item. */
export function decodeCatalogItem(bytes: Buffer | string | null): Validated<CatalogItem> {
  const parsed = decodeJson(bytes);
  return parsed.ok ? validateCatalogItem(parsed.value) : parsed;
}

function decodeJson(bytes: Buffer | string | null): Validated<unknown> {
  if (bytes === null) {
    return reject(REJECTION_REASONS.invalidJson, '', 'the record has no value; send one JSON object per record');
  }
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size > MAX_EVENT_BYTES) {
    return reject(REJECTION_REASONS.tooLarge, '', `the record has ${size} bytes; the maximum is ${MAX_EVENT_BYTES}`);
  }
  try {
    return { ok: true, value: JSON.parse(bytes.toString()) as unknown };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return reject(REJECTION_REASONS.invalidJson, '', `the record is not valid JSON (${detail})`);
  }
}

/** Validates `raw` with `schema`; `wording` names the kind of entry in the rejection messages. */
function validateWith<S extends z.ZodTypeAny>(schema: S, raw: unknown, wording: EntryWording): Validated<z.output<S>> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return reject(REJECTION_REASONS.notAnObject, '', `${wording.name} must be a JSON object, such as ${wording.example} (received ${describeValue(raw)})`);
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) {
    return { ok: true, value: parsed.data as z.output<S> };
  }
  return { ok: false, rejection: withoutEmptyField(describeIssue(parsed.error.issues[0], raw as Record<string, unknown>, wording.unknownFieldFix)) };
}

function describeIssue(issue: z.ZodIssue | undefined, raw: Record<string, unknown>, unknownFieldFix: string): Rejection {
  if (issue === undefined) {
    return { code: REJECTION_REASONS.invalidField, field: '', message: 'the event is invalid' };
  }
  const field = issue.path.map(String).join('.');
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    return {
      code: REJECTION_REASONS.unknownField,
      field: issue.keys.join(','),
      message: `unknown field ${issue.keys.join(', ')}; ${unknownFieldFix}`,
    };
  }
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') {
    return { code: REJECTION_REASONS.missingField, field, message: prefixField(field, issue.message) };
  }
  if (field === 'type' && raw.type !== undefined) {
    return { code: REJECTION_REASONS.unknownType, field, message: issue.message };
  }
  if (issue.code === z.ZodIssueCode.custom && issue.params?.reason === 'epoch-seconds') {
    return { code: REJECTION_REASONS.epochSeconds, field, message: issue.message };
  }
  if (issue.code === z.ZodIssueCode.custom && issue.params?.reason === 'missing') {
    return { code: REJECTION_REASONS.missingField, field, message: issue.message };
  }
  const received = describeValue(valueAt(raw, issue.path));
  if (issue.code === z.ZodIssueCode.invalid_type) {
    // zod's own text ("Expected object, received array") names neither the field nor the value.
    const message = issue.message.startsWith('Expected ') ? `${field} must be of type ${issue.expected}` : prefixField(field, issue.message);
    return { code: REJECTION_REASONS.invalidField, field, message: `${message} (received ${received})` };
  }
  // A context value of no accepted type fails the union. A non-finite number fails only the number
  // option, so zod reports that option's issue in place of the union's.
  const contextValueIssue = issue.code === z.ZodIssueCode.invalid_union || issue.code === z.ZodIssueCode.not_finite;
  if (contextValueIssue && issue.path[0] === 'context') {
    return {
      code: REJECTION_REASONS.invalidField,
      field,
      message: `${field} must be a string of at most ${MAX_CONTEXT_VALUE_LENGTH} characters, a finite number or a boolean (received ${received})`,
    };
  }
  // A value out of range, of the wrong form or not among the accepted values: the message states
  // what is accepted, and the value follows, as it does for a wrong type.
  const rangeOrForm: readonly string[] = [
    z.ZodIssueCode.too_small,
    z.ZodIssueCode.too_big,
    z.ZodIssueCode.not_finite,
    z.ZodIssueCode.invalid_string,
    z.ZodIssueCode.invalid_enum_value,
  ];
  const message = prefixField(field, issue.message);
  const showsValue = rangeOrForm.includes(issue.code) || (issue.code === z.ZodIssueCode.custom && issue.params?.showValue === true);
  return { code: REJECTION_REASONS.invalidField, field, message: showsValue ? `${message} (received ${received})` : message };
}

/** Returns the value at `path` in `raw`, or undefined where the path ends early. */
function valueAt(raw: unknown, path: ReadonlyArray<string | number>): unknown {
  let value = raw;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) {
      return undefined;
    }
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

/**
 * Makes a message name its field by the path in `field`. The schema of a list element cannot know
 * its index, so its message starts with `categories[]`, which becomes `categories.3`. A message
 * that does not start with the field's name gets the path in front.
 */
function prefixField(field: string, message: string): string {
  const element = /^(.+)\.\d+$/.exec(field);
  if (element !== null && message.startsWith(`${element[1]}[]`)) {
    return `${field}${message.slice(`${element[1]}[]`.length)}`;
  }
  return field === '' || message.startsWith(field.split('.')[0] ?? field) ? message : `${field}: ${message}`;
}

function reject(code: RejectionCode, field: string, message: string): { ok: false; rejection: Rejection } {
  return { ok: false, rejection: withoutEmptyField({ code, field, message }) };
}

/** Drops an empty `field`, which an issue about the whole entry has, so the rejection has no field, like an error reply. */
function withoutEmptyField(rejection: Rejection): Rejection {
  if (rejection.field !== '') {
    return rejection;
  }
  return { code: rejection.code, message: rejection.message };
}
