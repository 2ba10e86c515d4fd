import { z } from 'zod';
import { previewValue } from './json-preview';

export interface IssueMessageOptions {
  /** A valid body, shown when the body is missing or not a JSON object, such as `{"sessionId":"s1"}`. */
  example?: string | undefined;
}

/** One zod issue as a client reads it: the field path (`variants.0.weight`, empty for the body) and the message. */
export interface IssueDescription {
  field: string;
  message: string;
}

/**
 * Describes the zod issue of a request value: the field, the value received and the fix. The
 * message names the field as `field` does, a dot path such as `variants.0.weight`. A message that
 * a schema wrote itself is kept, with the value added. zod's own messages ("Required", "Expected
 * object, received null", "Array must contain at least 1 element(s)") are rewritten.
 */
export function describeIssue(issue: z.ZodIssue, value: unknown, options: IssueMessageOptions = {}): IssueDescription {
  const field = fieldPath(issue.path);
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    const key = issue.keys[0] ?? '';
    const unknownField = fieldPath([...issue.path, key]);
    return { field: unknownField, message: `${unknownField} is not a known field; remove it (unknown: ${issue.keys.join(', ')})` };
  }
  const received = valueAt(value, issue.path);
  if (field === '') {
    return { field, message: describeBodyIssue(issue, received, options) };
  }
  if (!isZodDefaultMessage(issue)) {
    const message = withFieldPath(issue.message, issue.path);
    return { field, message: received === undefined ? message : `${message} (received ${previewValue(received)})` };
  }
  return { field, message: describeDefaultIssue(issue, field, received) };
}

/**
 * Makes a message that a schema wrote name the field by its path. A schema of array elements
 * cannot know the index, so its message starts with `candidates[]`, which becomes `candidates.3`.
 * A message that does not start with the field's name, such as that of a refinement, gets the
 * path in front.
 */
function withFieldPath(message: string, path: ReadonlyArray<string | number>): string {
  const last = path.at(-1);
  if (typeof last === 'number') {
    const elementName = `${fieldPath(path.slice(0, -1))}[]`;
    if (message.startsWith(elementName)) {
      return `${fieldPath(path)}${message.slice(elementName.length)}`;
    }
  }
  return message.startsWith(String(path[0])) ? message : `${fieldPath(path)}: ${message}`;
}

/** Describes an issue of the body as a whole: it is missing, not a JSON object, or fails a check across fields. */
function describeBodyIssue(issue: z.ZodIssue, received: unknown, options: IssueMessageOptions): string {
  const example = options.example === undefined ? 'a JSON object' : `a JSON object such as ${options.example}`;
  if (received === undefined) {
    return `the request has no body; send ${example} with content-type: application/json`;
  }
  if (issue.code === z.ZodIssueCode.invalid_type) {
    return `the body must be ${example}; received ${previewValue(received)}`;
  }
  return isZodDefaultMessage(issue) ? `the body is invalid: ${issue.message}` : issue.message;
}

/** Rewrites an issue that carries zod's default message. */
function describeDefaultIssue(issue: z.ZodIssue, path: string, received: unknown): string {
  const receivedText = previewValue(received);
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      if (received === undefined) {
        return `${path} is missing; send it as ${typePhrase(issue.expected)}`;
      }
      return `${path} must be ${typePhrase(issue.expected)}; received ${receivedText}`;
    case z.ZodIssueCode.too_small: {
      const relation = boundRelation(issue.exact === true, issue.inclusive, 'at least', 'above');
      return `${path} must ${boundPhrase(issue.type, issue.minimum, relation)}; received ${receivedText}`;
    }
    case z.ZodIssueCode.too_big: {
      const relation = boundRelation(issue.exact === true, issue.inclusive, 'at most', 'below');
      return `${path} must ${boundPhrase(issue.type, issue.maximum, relation)}; received ${receivedText}`;
    }
    case z.ZodIssueCode.not_finite:
      return `${path} must be a finite number; received ${receivedText}`;
    case z.ZodIssueCode.invalid_enum_value:
      return `${path} must be one of ${issue.options.map((option) => JSON.stringify(option)).join(', ')}; received ${receivedText}`;
    case z.ZodIssueCode.invalid_literal:
      return `${path} must be ${JSON.stringify(issue.expected)}; received ${receivedText}`;
    default:
      return `${path}: ${issue.message} (received ${receivedText})`;
  }
}

/**
 * Phrases a size or range bound, such as "have at least 1 entry" for an array or "be greater than
 * 0" for a number. `above` and `below` are the exclusive bounds.
 */
function boundPhrase(type: string, bound: number | bigint, relation: BoundRelation): string {
  const count = Number(bound);
  if (type === 'string' && count === 1 && relation === 'at least') {
    return 'not be empty';
  }
  if (type === 'array' || type === 'set' || type === 'string') {
    const words = { exactly: 'exactly', 'at least': 'at least', above: 'more than', 'at most': 'at most', below: 'fewer than' } as const;
    const [singular, plural] = type === 'string' ? ['character', 'characters'] : ['entry', 'entries'];
    return `have ${words[relation]} ${count} ${count === 1 ? singular : plural}`;
  }
  const words = { exactly: 'exactly', 'at least': 'at least', above: 'greater than', 'at most': 'at most', below: 'less than' } as const;
  const boundText = type === 'date' ? new Date(count).toISOString() : String(bound);
  return `be ${words[relation]} ${boundText}`;
}

/** Names the JSON type zod expected, with its article. */
function typePhrase(expected: z.ZodParsedType): string {
  switch (expected) {
    case 'object':
      return 'a JSON object';
    case 'array':
      return 'an array';
    case 'integer':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'string':
    case 'number':
      return `a ${expected}`;
    default:
      return `of type ${expected}`;
  }
}

/** Tells whether an issue carries the message zod writes when the schema sets none. */
function isZodDefaultMessage(issue: z.ZodIssue): boolean {
  return issue.message === z.defaultErrorMap(issue, { data: undefined, defaultError: issue.message }).message;
}

/** Writes a zod path as the `field` of an error reply: its keys and indexes joined by dots, as in `variants.0.weight`. */
export function fieldPath(path: ReadonlyArray<string | number>): string {
  return path.map(String).join('.');
}

function valueAt(value: unknown, path: ReadonlyArray<string | number>): unknown {
  let current: unknown = value;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** How a value must relate to a bound. */
type BoundRelation = 'exactly' | 'at least' | 'above' | 'at most' | 'below';

/** Returns how a value must relate to a bound: `exactly`, or the inclusive or exclusive phrase. */
function boundRelation(exact: boolean, inclusive: boolean, inclusivePhrase: BoundRelation, exclusivePhrase: BoundRelation): BoundRelation {
  if (exact) {
    return 'exactly';
  }
  return inclusive ? inclusivePhrase : exclusivePhrase;
}
