import type { z } from 'zod';
import { ApiError } from './api-error';

/**
 * Parses a request body with a zod schema. The first problem becomes a 400 ApiError that names
 * the field, the value received and the fix, under the given code.
 */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown, code: string): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) {
    return parsed.data as z.output<S>;
  }
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const prefix = issue.path.length > 0 ? `${issue.path.join('.')}.` : '';
    const field = `${prefix}${issue.keys[0] ?? ''}`;
    throw new ApiError(code, 400, `${field} is not a known field; remove it (unknown: ${issue.keys.join(', ')})`, { field });
  }
  const field = issue?.path.map(String).join('.') ?? '';
  const received = valueAt(body, issue?.path ?? []);
  const shown = received === undefined ? 'nothing' : shorten(previewJson(received, 0));
  const detail = issue?.message ?? 'invalid';
  const subject = field === '' ? 'body' : field;
  // Messages written for a field already start with its name; zod's generic ones do not.
  const message = detail.startsWith(subject.split('.')[0] ?? subject) ? `${detail} (received ${shown})` : `${subject}: ${detail} (received ${shown})`;
  throw new ApiError(code, 400, message, field === '' ? {} : { field });
}

function valueAt(body: unknown, path: ReadonlyArray<string | number>): unknown {
  let current: unknown = body;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** Elements and keys shown per array or object level in a preview; the message keeps 80 characters anyway. */
const PREVIEW_ENTRIES = 4;
/** Levels of nesting shown in a preview. */
const PREVIEW_DEPTH = 3;

/**
 * Renders the start of a value as JSON. Unlike JSON.stringify it stops at a few entries and levels,
 * so a body of deeply nested arrays cannot overflow the stack and a 4 MB body is not copied for the
 * first 80 characters of a message.
 */
function previewJson(value: unknown, depth: number): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.slice(0, 80));
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
  const parts = entries.slice(0, PREVIEW_ENTRIES).map(([key, entry]) => `${JSON.stringify(key)}:${previewJson(entry, depth + 1)}`);
  return `{${withEllipsis(parts, entries.length).join(',')}}`;
}

function withEllipsis(parts: string[], total: number): string[] {
  return total > parts.length ? [...parts, '...'] : parts;
}

function shorten(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`;
}
