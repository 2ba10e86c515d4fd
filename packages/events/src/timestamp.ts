import { z } from 'zod';
import { describeValue } from './describe-value';

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

/** Groups: year, month, day, hour, minute, second, fraction digits, zone, and the zone offset's hours and minutes (unset for `Z`). */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-](\d{2}):?(\d{2}))$/;

/** An ISO-8601 date-time and an epoch millisecond value of one instant, for the examples in messages. */
const EXAMPLE_ISO = '2024-05-01T12:00:00Z';
const EXAMPLE_MS = 1_714_564_800_000;

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
    return parseIsoDateTime(value, minMs);
  }
  return {
    ok: false,
    epochSeconds: false,
    message: `must be epoch milliseconds (a number) or an ISO-8601 date-time string with a zone, such as ${EXAMPLE_MS} or "${EXAMPLE_ISO}" (received ${describeValue(value)})`,
  };
}

/**
 * Parses an ISO-8601 date-time with a zone. The day, the time of day and the zone offset are
 * checked here, so that each gets its own message. A string that passes them is one that
 * `Date.parse` (V8, Node 20) reads, and a test checks that the two agree. `Date.parse` also rejects
 * a leap second (23:59:60), hour 25, minute 60 and offset +24:00. It reads 24:00 only with zero
 * minutes, seconds and fraction, as 00:00 of the next day.
 */
function parseIsoDateTime(value: string, minMs: number): TimestampResult {
  const match = ISO_8601.exec(value);
  if (match === null) {
    return {
      ok: false,
      epochSeconds: false,
      message: `"${value.slice(0, 40)}" is not an ISO-8601 date-time with a zone; send a date-time such as ${EXAMPLE_ISO}, or epoch milliseconds`,
    };
  }
  const [, year, month, day, hour, minute, second = '00', fraction = '0', zone, offsetHours = '00', offsetMinutes = '00'] = match as unknown as string[];
  if (!isCalendarDate(Number(year), Number(month), Number(day))) {
    const monthNumber = Number(month);
    // A month outside 1 to 12 is named first: "2026-13-45" has no month 13, whatever its day.
    const problem = monthNumber < 1 || monthNumber > 12 ? `month ${month} does not exist` : `${year}-${month} has no day ${day}`;
    return { ok: false, epochSeconds: false, message: `"${value}" names a day that does not exist (${problem}); check the month and day` };
  }
  const timeProblem = timeOfDayProblem(Number(hour), Number(minute), Number(second), Number(fraction));
  if (timeProblem !== undefined) {
    return {
      ok: false,
      epochSeconds: false,
      message:
        `"${value}" has an invalid time of day, because ${timeProblem}; send the hour from 00 to 23 and the minute and second ` +
        `from 00 to 59, such as ${EXAMPLE_ISO} (24:00:00 is also accepted, as the end of the day)`,
    };
  }
  if (Number(offsetHours) > 23 || Number(offsetMinutes) > 59) {
    return {
      ok: false,
      epochSeconds: false,
      message: `"${value}" has an invalid zone offset ${zone}; send Z or an offset from -23:59 to +23:59, such as 2024-05-01T14:00:00+02:00`,
    };
  }
  const ms = Date.parse(value.toUpperCase());
  if (!Number.isFinite(ms)) {
    // The checks above leave no string that Date.parse cannot read. This branch stays in case they drift apart.
    return { ok: false, epochSeconds: false, message: `"${value.slice(0, 40)}" could not be parsed as a date-time; send a date-time such as ${EXAMPLE_ISO}, or epoch milliseconds` };
  }
  if (ms < minMs || ms > MAX_TIMESTAMP_MS) {
    return { ok: false, epochSeconds: false, message: `"${value}" is outside the accepted range; send a date-time ${rangeText(minMs)}` };
  }
  return { ok: true, ms };
}

/**
 * Names what is wrong with a time of day, or returns undefined for 00:00:00 to 23:59:59.999999999
 * and for 24:00:00 exactly, the end of the day.
 */
function timeOfDayProblem(hour: number, minute: number, second: number, fraction: number): string | undefined {
  if (hour > 24) {
    return `hour ${hour} does not exist`;
  }
  if (minute > 59) {
    return `minute ${minute} does not exist`;
  }
  if (second === 60) {
    return 'second 60, a leap second, is not accepted';
  }
  if (second > 59) {
    return `second ${second} does not exist`;
  }
  if (hour === 24 && (minute > 0 || second > 0 || fraction > 0)) {
    return 'hour 24 is accepted only as 24:00:00, the end of the day';
  }
  return undefined;
}

function parseEpochMs(value: number, minMs: number): TimestampResult {
  if (!Number.isFinite(value) || !Number.isInteger(value)) {
    return { ok: false, epochSeconds: false, message: `${String(value)} is not an integer; send epoch milliseconds or an ISO-8601 string` };
  }
  if (value > 0 && value < EPOCH_SECONDS_LIMIT) {
    return { ok: false, epochSeconds: true, message: `${value} looks like epoch seconds; ${epochSecondsFix(value, minMs)}` };
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

/**
 * Says what to send instead of epoch seconds. The value in milliseconds is proposed only when it
 * would be accepted: below 1e8 s it is still under the epoch-seconds limit, and above the latest
 * time it is out of range.
 */
function epochSecondsFix(seconds: number, minMs: number): string {
  const asMs = seconds * 1000;
  if (asMs < EPOCH_SECONDS_LIMIT) {
    return `a time before ${isoText(EPOCH_SECONDS_LIMIT)} (${EPOCH_SECONDS_LIMIT} ms) cannot be told from epoch seconds, so send it as an ISO-8601 string`;
  }
  if (asMs > MAX_TIMESTAMP_MS) {
    return `as epoch seconds it is after the latest accepted time; send epoch milliseconds ${rangeText(minMs)}`;
  }
  return `send epoch milliseconds (${asMs}) or an ISO-8601 string`;
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
    // Only a value that would be accepted is suggested: not one that reads as epoch seconds.
    if (ms >= minMs && ms <= MAX_TIMESTAMP_MS && !(ms >= 0 && ms < EPOCH_SECONDS_LIMIT)) {
      return `; ${value} looks like epoch ${unit}, which is ${ms} in milliseconds`;
    }
  }
  return '';
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  // Date.UTC reads years 0 to 99 as 1900 to 1999, so the year is set on its own.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
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
