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
  // Synchronous, so that every line is written, in order, before process.exit(). pino's
  // asynchronous stream (pino 9.14, sonic-boom 4.2) flushes its buffer at exit but skips the chunk
  // that an fs.write still has in flight, so that chunk landed after the later lines or was lost.
  // A reader that stops reading stdout therefore stalls the process instead of growing a buffer.
  const target = destination ?? fileDestination({ dest: process.stdout.fd, sync: true });
  return pino(options, redactingDestination(target));
}

export type { Logger };
