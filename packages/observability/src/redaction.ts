import { stdSerializers, type DestinationStream } from 'pino';

/** Text written in place of a secret. */
export const REDACTION_CENSOR = '[redacted]';

/**
 * Keys whose values are replaced in log lines, down to the depth of `REDACTED_PATHS`: credential
 * headers, the admin bearer token, and the passwords and keys of Redis and of kafkajs SASL options
 * (`sasl.password`, and `sasl.secretAccessKey` and `sasl.sessionToken` of the AWS mechanism).
 */
const SECRET_KEYS = ['authorization', 'cookie', 'adminToken', 'password', 'secretAccessKey', 'sessionToken'];

/**
 * pino redaction paths: each secret key at the top of a log object and up to two levels below it,
 * which covers `req.headers.authorization` and `kafka.sasl.password`. Deeper copies are not
 * matched by a key, so secrets must not be logged inside larger objects.
 */
export const REDACTED_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

/**
 * The password of a URL's userinfo, as in `redis://:secret@host:6379` or
 * `rediss://user:secret@host`. The password runs to the last `@` before the host, so an
 * unescaped `@` in it is matched too, and stops at white space and at the `"` that ends a JSON string.
 */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"]*):[^\s/?#"]*@/gi;

/** A password passed as a URL query parameter, which ioredis also reads (`redis://host?password=secret`). */
const QUERY_PASSWORD = /([?&]password=)[^&#\s"]*/gi;

/** The token of a bearer authorization value (RFC 6750 token characters). */
const BEARER_TOKEN = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;

/** Replaces URL passwords (in the userinfo or the query) and bearer tokens in `text`, wherever they appear. */
export function redactSecretsInText(text: string): string {
  return text
    .replace(URL_PASSWORD, `$1:${REDACTION_CENSOR}@`)
    .replace(QUERY_PASSWORD, `$1${REDACTION_CENSOR}`)
    .replace(BEARER_TOKEN, `$1 ${REDACTION_CENSOR}`);
}

/**
 * Wraps a log destination so that every line is scrubbed by `redactSecretsInText` before it is
 * written. This catches secrets inside strings that no redaction path can name: a Redis URL in an
 * error message or a bearer token in a logged header value.
 */
export function redactingDestination(target: DestinationStream): DestinationStream {
  const scrubbed: DestinationStream & { flush?: (callback: (error?: Error) => void) => void; flushSync?: () => void } = {
    write: (line: string) => target.write(redactSecretsInText(line)),
  };
  const flushable = target as { flush?: unknown; flushSync?: unknown };
  // pino's logger.flush() calls the destination's flush when it has one; sonic-boom buffers lines.
  if (typeof flushable.flush === 'function') {
    scrubbed.flush = (callback) => (flushable.flush as (callback: (error?: Error) => void) => void).call(target, callback);
  }
  if (typeof flushable.flushSync === 'function') {
    scrubbed.flushSync = () => (flushable.flushSync as () => void).call(target);
  }
  return scrubbed;
}

/** Nesting levels of a serialized error searched for Redis command arguments. */
const MAX_ERROR_DEPTH = 6;

/**
 * Serializes an error like pino's standard serializer, but with the arguments of failed Redis
 * commands replaced. ioredis attaches `command: {name, args}` to a reply error, and those arguments
 * are the password of a failed AUTH or the events of a failed script call, neither of which may
 * reach a log. The command name stays, so the line still names the command that failed.
 */
export function serializeError(error: unknown): unknown {
  const serialized = error instanceof Error ? stdSerializers.err(error) : error;
  return withoutCommandArguments(serialized, 0);
}

function withoutCommandArguments(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_ERROR_DEPTH) {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((entry: unknown) => withoutCommandArguments(entry, depth + 1));
  }
  const copy: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    copy[key] = key === 'command' && isRedisCommand(entry) ? { name: entry.name, args: REDACTION_CENSOR } : withoutCommandArguments(entry, depth + 1);
  }
  return copy;
}

function isRedisCommand(value: unknown): value is { name: unknown; args: unknown } {
  return value !== null && typeof value === 'object' && 'args' in value;
}
