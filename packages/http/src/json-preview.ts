import { quoteJsonString } from '@nexttap/events';

/** Maximum characters of a preview in a message. */
const PREVIEW_LENGTH = 80;
/** Elements and keys shown per array or object level in a preview; the message keeps 80 characters anyway. */
const PREVIEW_ENTRIES = 4;
/** Levels of nesting shown in a preview. */
const PREVIEW_DEPTH = 3;

/**
 * Renders the start of a request value as JSON for an error message, at most 80 characters, with
 * `...` where it was cut. Non-finite numbers are written as `Infinity` or `NaN`, not as
 * JSON.stringify's `null`, because JSON.parse reads a number such as 1e400 as Infinity.
 */
export function previewValue(value: unknown): string {
  const text = previewJson(value, 0);
  return text.length <= PREVIEW_LENGTH ? text : `${text.slice(0, PREVIEW_LENGTH - 3)}...`;
}

/**
 * Renders the start of a value as JSON. Unlike JSON.stringify it stops at a few entries and levels,
 * so a body of deeply nested arrays cannot overflow the stack and a 4 MB body is not copied for the
 * first 80 characters of a message.
 */
function previewJson(value: unknown, depth: number): string {
  if (typeof value === 'string') {
    return quoteJsonString(value.slice(0, PREVIEW_LENGTH));
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return String(value);
  }
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value) ?? String(value);
  }
  if (Array.isArray(value)) {
    if (depth >= PREVIEW_DEPTH) {
      return '[...]';
    }
    const parts = value.slice(0, PREVIEW_ENTRIES).map((entry: unknown) => previewJson(entry, depth + 1));
    return `[${withEllipsis(parts, value.length).join(',')}]`;
  }
  if (depth >= PREVIEW_DEPTH) {
    return '{...}';
  }
  const entries = Object.entries(value);
  const parts = entries.slice(0, PREVIEW_ENTRIES).map(([key, entry]) => `${quoteJsonString(key)}:${previewJson(entry, depth + 1)}`);
  return `{${withEllipsis(parts, entries.length).join(',')}}`;
}

function withEllipsis(parts: string[], total: number): string[] {
  return total > parts.length ? [...parts, '...'] : parts;
}

/**
 * Quotes `text` as a JSON string for a message, with invisible and bidirectional characters
 * escaped (`quoteJsonString`). Text over `maxLength` characters is cut there and ends in `..."`,
 * so a reader can tell a cut value from a whole one.
 */
export function quoteText(text: string, maxLength: number): string {
  if (text.length <= maxLength) {
    return quoteJsonString(text);
  }
  return `${quoteJsonString(text.slice(0, maxLength)).slice(0, -1)}..."`;
}
