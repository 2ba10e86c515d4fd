import { z } from 'zod';

/**
 * Numbers below this are read as epoch seconds sent by mistake: 1e11 ms is 1973-03-03, while 1e11 s
 * is the year 5138, so no real event time in milliseconds is that small and no seconds value is larger.
 */
export const EPOCH_SECONDS_LIMIT = 1e11;

/** Latest accepted time: 2100-01-01T00:00:00Z in epoch milliseconds. Later values are typos. */
export const MAX_TIMESTAMP_MS = 4_102_444_800_000;

/**
 * Earliest accepted time: 1800-01-01T00:00:00Z in epoch ms, for catalog dates such as a film's
 * release. Times before 1970 are negative; only positive numbers below 1e11 are ambiguous.
 */
export const MIN_TIMESTAMP_MS = -5_364_662_400_000;

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})[Tt]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/;

export type TimestampResult =
  | { ok: true; ms: number }
  | { ok: false; epochSeconds: boolean; message: string };

/**
 * Parses a timestamp given as epoch milliseconds or an ISO-8601 string with a zone into epoch ms.
 * Times before `minMs` (default `MIN_TIMESTAMP_MS`, 1800) or after `MAX_TIMESTAMP_MS` (2100) are
 * rejected, and every such message states that one range.
 */
export function parseTimestamp(value: unknown, minMs: number = MIN_TIMESTAMP_MS): TimestampResult {
  if (typeof value === 'number') {
    return parseEpochMs(value, minMs);
  }
  if (typeof value === 'string') {
    const match = ISO_8601.exec(value);
    if (match === null) {
      return {
        ok: false,
        epochSeconds: false,
        message: `"${value.slice(0, 40)}" is not an ISO-8601 date-time with a zone; send e.g. 2024-05-01T12:00:00Z or epoch milliseconds`,
      };
    }
    const ms = Date.parse(value.toUpperCase());
    if (!isCalendarDate(Number(match[1]), Number(match[2]), Number(match[3]))) {
      return { ok: false, epochSeconds: false, message: `"${value}" names a day that does not exist; check the month and day` };
    }
    if (!Number.isFinite(ms) || ms < minMs || ms > MAX_TIMESTAMP_MS) {
      return { ok: false, epochSeconds: false, message: `"${value}" is outside the accepted range; send a date-time ${rangeText(minMs)}` };
    }
    return { ok: true, ms };
  }
  return { ok: false, epochSeconds: false, message: 'must be epoch milliseconds (a number) or an ISO-8601 string' };
}

function parseEpochMs(value: number, minMs: number): TimestampResult {
  if (!Number.isFinite(value) || !Number.isInteger(value)) {
    return { ok: false, epochSeconds: false, message: `${String(value)} is not an integer; send epoch milliseconds or an ISO-8601 string` };
  }
  if (value > 0 && value < EPOCH_SECONDS_LIMIT) {
    return {
      ok: false,
      epochSeconds: true,
      message: `${value} looks like epoch seconds; send epoch milliseconds (${value * 1000}) or an ISO-8601 string`,
    };
  }
  if (value === 0) {
    // 0 is 1970-01-01T00:00Z, but it is also the default of an unset number field, so it is rejected.
    return { ok: false, epochSeconds: false, message: `0 is rejected as the value of an unset time; send epoch milliseconds ${rangeText(minMs)}` };
  }
  if (value < minMs || value > MAX_TIMESTAMP_MS) {
    return { ok: false, epochSeconds: false, message: `${value} is outside the accepted range; send epoch milliseconds ${rangeText(minMs)}${smallerUnitHint(value, minMs)}` };
  }
  return { ok: true, ms: value };
}

/** States the accepted range, as ISO-8601 and as epoch milliseconds. */
function rangeText(minMs: number): string {
  return `from ${isoText(minMs)} (${minMs}) to ${isoText(MAX_TIMESTAMP_MS)} (${MAX_TIMESTAMP_MS})`;
}

function isoText(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Names the unit of a number too large for milliseconds that reads as a time in range in micro- or nanoseconds. */
function smallerUnitHint(value: number, minMs: number): string {
  if (value <= MAX_TIMESTAMP_MS) {
    return '';
  }
  for (const [unit, perMs] of [['microseconds', 1e3], ['nanoseconds', 1e6]] as const) {
    const ms = Math.round(value / perMs);
    if (ms >= minMs && ms <= MAX_TIMESTAMP_MS) {
      return `; ${value} looks like epoch ${unit}, which is ${ms} in milliseconds`;
    }
  }
  return '';
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

export interface TimestampSchemaOptions {
  /** Earliest accepted time in epoch ms; interactions use EPOCH_SECONDS_LIMIT, catalog dates MIN_TIMESTAMP_MS. */
  minMs?: number;
}

/** Builds the schema of one timestamp field; the parsed value is epoch milliseconds. */
export function timestampSchema(field: string, options: TimestampSchemaOptions = {}) {
  const minMs = options.minMs ?? MIN_TIMESTAMP_MS;
  return z.unknown().transform((value, context) => {
    if (value === undefined) {
      context.addIssue({ code: z.ZodIssueCode.custom, message: `${field} is missing; send epoch milliseconds or an ISO-8601 string`, params: { reason: 'missing' } });
      return z.NEVER;
    }
    const parsed = parseTimestamp(value, minMs);
    if (!parsed.ok) {
      const params = parsed.epochSeconds ? { reason: 'epoch-seconds' } : {};
      context.addIssue({ code: z.ZodIssueCode.custom, message: `${field} ${parsed.message}`, params });
      return z.NEVER;
    }
    return parsed.ms;
  });
}
