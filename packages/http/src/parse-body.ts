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
  const shown = received === undefined ? 'nothing' : shorten(JSON.stringify(received) ?? String(received));
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

function shorten(text: string): string {
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`;
}
