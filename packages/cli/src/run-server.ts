import { createLogger } from '@nexttap/observability';
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
  const logger = createLogger({ level: config.process.logLevel, service: `nexttap-${role}` });
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
