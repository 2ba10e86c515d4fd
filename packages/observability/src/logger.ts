import { destination as fileDestination, pino, stdTimeFunctions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { REDACTED_PATHS, REDACTION_CENSOR, redactingDestination, serializeError } from './redaction';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerSettings {
  level: LogLevel;
  /** Service name written into every line as `service`. */
  service: string;
}

/**
 * Creates the process logger. Every service and command logs through it: fields first, a fixed
 * lowercase message, errors under `err`. Level policy: 5xx and caught failures at error, 4xx at
 * info, rebalances at warn, retries at debug, lifecycle at info.
 *
 * Secrets are kept out in three ways: fields named like a credential are replaced
 * (`REDACTED_PATHS`), the arguments of failed Redis commands are dropped from errors, and every
 * written line is scrubbed of URL passwords and bearer tokens. `destination` defaults to stdout.
 */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    redact: { paths: REDACTED_PATHS, censor: REDACTION_CENSOR },
    serializers: { err: serializeError },
    timestamp: stdTimeFunctions.isoTime,
  };
  // The same asynchronous stdout stream pino builds by default; it flushes when the process exits.
  const target = destination ?? fileDestination({ dest: process.stdout.fd, sync: false });
  return pino(options, redactingDestination(target));
}

export type { Logger };
