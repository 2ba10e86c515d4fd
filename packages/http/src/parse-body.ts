import type { z } from 'zod';
import { ApiError } from './api-error';
import { describeIssue, type IssueMessageOptions } from './issue-message';
import { previewValue } from './json-preview';

/**
 * Parses a request body with a zod schema. The first problem becomes a 400 ApiError that names
 * the field, the value received and the fix, under the given code. `options.example` is a valid
 * body that the message shows when the body is missing or not a JSON object.
 */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown, code: string, options: IssueMessageOptions = {}): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) {
    return parsed.data as z.output<S>;
  }
  const issue = parsed.error.issues[0];
  if (issue === undefined) {
    throw new ApiError(code, 400, 'the request body is invalid');
  }
  const { field, message } = describeIssue(issue, body, options);
  throw new ApiError(code, 400, message, field === '' ? {} : { field });
}

/**
 * Parses a query string, as fastify parsed it, with a zod schema. A parameter given more than once
 * (`?sessionId=a&sessionId=b`), which fastify reads as an array, is rejected by name before the
 * schema runs, because every query parameter of the service takes one value.
 */
export function parseQuery<S extends z.ZodTypeAny>(schema: S, query: unknown, code: string): z.output<S> {
  if (typeof query === 'object' && query !== null) {
    for (const [name, value] of Object.entries(query)) {
      if (Array.isArray(value)) {
        throw new ApiError(code, 400, `the query parameter ${name} was given more than once (received ${previewValue(value)}); send it once`, { field: name });
      }
    }
  }
  return parseBody(schema, query, code);
}
