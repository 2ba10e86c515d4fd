/**
 * The errors the command line prints as one line without a stack trace. They live apart from the
 * commands, so that `main.ts` can recognise them without loading every command's dependencies.
 */

/** A configuration that failed to parse; the message lists every problem at once. The exit code is 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A MovieLens folder or file that import cannot read; the message names `--dir`, the path and the fix. The exit code is 1. */
export class ImportInputError extends Error {
  override readonly name = 'ImportInputError';
}

/** A Redis that the server cannot use at start; the message names REDIS_URL, what failed and the fix. The exit code is 1. */
export class RedisStartError extends Error {
  override readonly name = 'RedisStartError';
}
