import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerSettings {
  level: LogLevel;
  /** Service name written into every line as `service`. */
  service: string;
}

/**
 * Paths that never reach a log line: credentials in request headers and in configuration objects.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'config.adminToken',
  'config.redisUrl',
  '*.password',
];

/**
 * Creates the process logger. Every service logs through it: fields first, a fixed lowercase
 * message, errors under `err`. Level policy: 5xx and caught failures at error, 4xx at info,
 * rebalances at warn, retries at debug, lifecycle at info.
 */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: stdSerializers.err },
    timestamp: stdTimeFunctions.isoTime,
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export type { Logger };
