import { z } from 'zod';
import { ApiError } from './api-error';
import { describeIssue, type IssueMessageOptions } from './issue-message';
import { previewValue, quoteText } from './json-preview';

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

/** The parts of a request that `parseQuery` reads: fastify's parsed query and the URL it came from. */
export interface QueryRequest {
  query: unknown;
  url: string;
}

/**
 * Parses the query string of a request with a zod object schema, whose keys are the known
 * parameters. The checks run in a fixed order, so one query always gets the same rejection. First
 * comes an unknown parameter (such as `foo` or `sessionId[]`), then a name or value that is not
 * valid percent-encoded UTF-8, then a parameter given more than once, and last the schema.
 * fastify keeps an invalid escape such as `%FF` as literal text and reads a repeated parameter as
 * an array, so both are checked here.
 */
export function parseQuery<S extends z.AnyZodObject>(schema: S, request: QueryRequest, code: string): z.output<S> {
  const query = typeof request.query === 'object' && request.query !== null ? (request.query as Record<string, unknown>) : {};
  const known = Object.keys(schema.shape);
  const unknown = Object.keys(query).filter((name) => !known.includes(name));
  const firstUnknown = unknown[0];
  if (firstUnknown !== undefined) {
    throw new ApiError(code, 400, unknownParameterMessage(firstUnknown, unknown, known), { field: firstUnknown });
  }
  const encodingError = findEncodingError(request.url);
  if (encodingError !== undefined) {
    throw new ApiError(
      code,
      400,
      `the query parameter ${encodingError.name} is not valid percent-encoded UTF-8 (received ${quoteText(encodingError.text, 80)}); ` +
        'percent-encode the UTF-8 bytes of the text, such as %C3%A9 for é',
      { field: encodingError.name },
    );
  }
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) {
      throw new ApiError(code, 400, `the query parameter ${shownName(name)} was given more than once (received ${previewValue(value)}); send it once`, { field: name });
    }
  }
  return parseBody(schema, query, code);
}

/** The query schema of a route that takes no query parameters. */
const NO_QUERY_PARAMETERS = z.object({}).strict();

/**
 * Rejects a request with any query parameter, for routes that take none, with the 400 that
 * `parseQuery` raises for an unknown parameter. A URL without `?` skips the check, so a request
 * without a query costs one string search.
 */
export function rejectQueryParameters(request: QueryRequest, code: string): void {
  if (request.url.includes('?')) {
    parseQuery(NO_QUERY_PARAMETERS, request, code);
  }
}

function unknownParameterMessage(name: string, unknown: readonly string[], known: readonly string[]): string {
  const base = name.endsWith('[]') ? name.slice(0, -2) : undefined;
  if (base !== undefined && known.includes(base)) {
    return `the query parameter ${name} is not known; send ${base}=value once, without []`;
  }
  if (known.length === 0) {
    return `the query parameter ${shownName(name)} is not known; remove it, because this route takes no query parameters (unknown: ${unknown.map(shownName).join(', ')})`;
  }
  return `the query parameter ${shownName(name)} is not known; remove it (unknown: ${unknown.map(shownName).join(', ')}; known: ${known.join(', ')})`;
}

/** Printable ASCII of at most 64 characters, which a message shows without quotes. */
const PLAIN_NAME = /^[\x21-\x7e]{1,64}$/;

/** Shows a parameter name in a message: as it is when plain, else quoted as JSON and cut at 64 characters. */
function shownName(name: string): string {
  return PLAIN_NAME.test(name) ? name : quoteText(name, 64);
}

/**
 * Finds the first name or value of a raw query string that `decodeURIComponent` rejects: an
 * escape that is not `%` and two hex digits, or bytes that are not UTF-8, such as `%FF` or the
 * encoded surrogate `%ED%A0%80`. Returns the parameter's name (its raw text when the name itself
 * is invalid) and the raw text that failed.
 */
function findEncodingError(url: string): { name: string; text: string } | undefined {
  const start = url.indexOf('?');
  if (start === -1) {
    return undefined;
  }
  for (const pair of url.slice(start + 1).split('&')) {
    const separator = pair.indexOf('=');
    const rawName = separator === -1 ? pair : pair.slice(0, separator);
    const rawValue = separator === -1 ? '' : pair.slice(separator + 1);
    const name = decodeQueryText(rawName);
    if (name === undefined) {
      return { name: rawName, text: rawName };
    }
    if (decodeQueryText(rawValue) === undefined) {
      return { name, text: rawValue };
    }
  }
  return undefined;
}

/** Decodes one name or value of a query string, where `+` is a space, or returns undefined when it is not valid. */
function decodeQueryText(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
