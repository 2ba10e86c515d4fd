import { BusError } from '@nexttap/bus';
import { createLogger } from '@nexttap/observability';
import { RedisStartError } from './cli-errors';
import { ConfigError, parseServerConfig, type ServerConfig } from './process-config';
import { startServer, type Role, type ShutdownOutcome } from './server';

/**
 * Exit code of a shutdown that did not finish within SHUTDOWN_TIMEOUT_MS or failed, so that a
 * supervisor can tell that work may have been cut off. A batch applied but not committed is then
 * delivered again to the partition's next owner.
 */
export const EXIT_SHUTDOWN_INCOMPLETE = 1;

const EXIT_CODES: Record<ShutdownOutcome, number> = { stopped: 0, 'timed-out': EXIT_SHUTDOWN_INCOMPLETE };

/**
 * Runs a server role as a process: parses the environment once, starts, and shuts down in order on
 * SIGTERM or SIGINT. A further SIGTERM or SIGINT during the shutdown is logged and ignored. Exits
 * non-zero when the configuration is invalid, the start fails, or the shutdown times out or fails.
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
    const hint = startFailureHint(error, config.process.host, config.process.port) ?? settingFailureHint(error, config);
    logger.fatal({ err: error, role, ...(hint === undefined ? {} : { hint }) }, 'server start failed');
    // The log may go to a collector, so the reason is also written where a person starting the process looks.
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`nexttap: ${hint ?? `the server could not start: ${reason}`}\n`);
    process.exit(1);
  }
  const running = server;
  const shutdownTimeoutMs = config.process.shutdownTimeoutMs;
  let shutdownStartedAt: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    // A second signal must not end the drain, because the in-process bus would lose every
    // acknowledged event not yet applied. One Ctrl-C under `npm start` reaches node twice, from the
    // terminal and from npm. SHUTDOWN_TIMEOUT_MS bounds the drain, and SIGQUIT or SIGKILL still stop at once.
    if (shutdownStartedAt !== undefined) {
      const remainingMs = Math.max(0, shutdownTimeoutMs - (Date.now() - shutdownStartedAt));
      logger.warn({ signal, remainingMs }, 'shutdown already in progress; signal ignored');
      return;
    }
    shutdownStartedAt = Date.now();
    logger.info({ signal }, 'shutdown requested');
    running.close().then(
      (outcome) => {
        const exitCode = EXIT_CODES[outcome];
        if (exitCode === 0) {
          logger.info({ exitCode }, 'process exiting');
        } else {
          logger.error({ exitCode, outcome }, 'process exiting after an incomplete shutdown');
        }
        process.exit(exitCode);
      },
      (error: unknown) => {
        logger.fatal({ err: error, exitCode: EXIT_SHUTDOWN_INCOMPLETE }, 'shutdown failed');
        process.exit(EXIT_SHUTDOWN_INCOMPLETE);
      },
    );
  };
  // `on`, not `once`, because with no listener left Node's default action ends the process mid-drain.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * Names the setting to change for a failed start, or returns undefined for other failures. The
 * failed starts named: Redis could not be used, no Kafka broker accepted a connection, the ingest
 * consumer could not join its group, or the model or the seed dataset could not be read.
 */
export function settingFailureHint(error: unknown, config: ServerConfig): string | undefined {
  if (!(error instanceof Error)) {
    return undefined;
  }
  if (error instanceof RedisStartError) {
    return error.message;
  }
  if (error instanceof BusError && error.code === 'BUS_ERR_SUBSCRIBE_FAILED') {
    return subscribeFailureHint(error, config);
  }
  if (error instanceof BusError && error.code === 'BUS_ERR_CONNECT_FAILED') {
    return `KAFKA_BROKERS=${config.process.kafkaBrokers.join(',')}: ${error.message}; start Kafka there, or set KAFKA_BROKERS to brokers that accept connections, or leave it empty for the in-process bus`;
  }
  if (error.name === 'ModelValidationError') {
    return `MODEL_DIR=${config.ranker.modelDir} is not a usable model folder: ${error.message}. Set MODEL_DIR to a folder such as models/movielens-mlp/1`;
  }
  const path = (error as { path?: unknown }).path;
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT' && typeof path === 'string' && path.startsWith(config.process.movielensDir)) {
    return `MOVIELENS_DIR=${config.process.movielensDir} has no ${path.slice(config.process.movielensDir.length).replace(/^\//, '')}; set MOVIELENS_DIR to the folder of movies.csv and ratings.csv, or SEED_DATASET=none to start without seed data`;
  }
  return undefined;
}

/**
 * Returns the subscribe failure with the Kafka settings that decide a group join. The librdkafka
 * mock cluster waits the session timeout less 1 s before it assigns partitions, and with the 30 s
 * default a second member's SyncGroup was seen to fail with INVALID_REQUEST until the limit passed.
 */
function subscribeFailureHint(error: BusError, config: ServerConfig): string {
  const { kafkaBrokers, kafkaSessionTimeoutMs, kafkaHeartbeatIntervalMs, kafkaRebalanceTimeoutMs } = config.process;
  return (
    `${error.message}. Settings: KAFKA_BROKERS=${kafkaBrokers.join(',')}, KAFKA_SESSION_TIMEOUT_MS=${kafkaSessionTimeoutMs}, ` +
    `KAFKA_HEARTBEAT_INTERVAL_MS=${kafkaHeartbeatIntervalMs}, KAFKA_REBALANCE_TIMEOUT_MS=${kafkaRebalanceTimeoutMs}; ` +
    'the join limit is the rebalance timeout plus the session timeout. ' +
    'On the librdkafka mock cluster set KAFKA_SESSION_TIMEOUT_MS=3000 and KAFKA_HEARTBEAT_INTERVAL_MS=1000 (docs/operations.md)'
  );
}

/** Returns what to change when the HTTP server could not listen on HOST and PORT, or undefined for other failures. */
export function startFailureHint(error: unknown, host: string, port: number): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') {
    return `port ${port} on ${host} is already in use; set PORT to a free port or stop the process that holds it`;
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `HOST ${host} is not an address of this machine; set HOST to 127.0.0.1, 0.0.0.0 or one of its addresses`;
  }
  if (code === 'EACCES') {
    return `port ${port} needs privileges this process lacks; set PORT to 1024 or above`;
  }
  return undefined;
}
