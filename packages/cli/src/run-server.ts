import { createLogger } from '@nexttap/observability';
import { stdSerializers } from 'pino';
import { ConfigError, parseServerConfig } from './process-config';
import { startServer, type Role } from './server';

/**
 * Runs a server role as a process: parses the environment once, starts, and shuts down in order on
 * SIGTERM or SIGINT. Exits non-zero when the configuration is invalid or the start fails.
 */
export async function runServer(role: Role, environment: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config;
  try {
    config = parseServerConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`nexttap: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ level: config.process.logLevel, service: `nexttap-${role}` }).child({}, { serializers: { err: serializeError } });
  let server;
  try {
    server = await startServer(role, config, { logger });
  } catch (error) {
    logger.fatal({ err: error, role }, 'server start failed');
    process.exit(1);
  }
  const running = server;
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutdown requested');
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
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
    copy[key] = key === 'command' && isRedisCommand(entry) ? { name: entry.name, args: '[redacted]' } : withoutCommandArguments(entry, depth + 1);
  }
  return copy;
}

function isRedisCommand(value: unknown): value is { name: unknown; args: unknown } {
  return value !== null && typeof value === 'object' && 'args' in value;
}
