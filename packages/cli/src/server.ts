import { randomUUID } from 'node:crypto';
import type { ServerOptions } from 'node:http';
import { isIPv6 } from 'node:net';
import cors from '@fastify/cors';
import { KafkaBus, type Subscription } from '@nexttap/bus';
import {
  countResponses,
  installErrorHandler,
  Lifecycle,
  registerFallbackHandlers,
  registerHealthRoutes,
  rejectRequestsUnlessReady,
  replyToFrameworkError,
} from '@nexttap/http';
import { buildCollectorOpenApi, IngestProcessor, INGEST_HTTP_CODES, registerCollectorOpenApiRoutes, registerCollectorRoutes } from '@nexttap/ingest';
import { createMetricsRegistry, type Logger } from '@nexttap/observability';
import { Ranker } from '@nexttap/ranker';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createClients, type Clients } from './clients';
import type { ServerConfig } from './process-config';
import { seedMovieLens } from './seed';

export type Role = 'ingest' | 'ranker' | 'all';

/** Outcome of a shutdown: every step done, or `SHUTDOWN_TIMEOUT_MS` reached with work in flight. */
export type ShutdownOutcome = 'stopped' | 'timed-out';

/** A running server; `close` is idempotent, shuts down in order and rejects when a step fails. */
export interface RunningServer {
  url: string;
  app: FastifyInstance;
  clients: Clients;
  ranker: Ranker | undefined;
  lifecycle: Lifecycle;
  close(): Promise<ShutdownOutcome>;
}

export interface StartOptions {
  logger: Logger;
  clock?: () => number;
}

/**
 * Starts the roles of one process. The checks that take little time come first: Redis (in
 * createClients), the model of MODEL_DIR, the Kafka brokers and the HTTP port. Then the slow steps
 * run while /readyz replies 503 `starting` and other routes reply 503 `HTTP_ERR_STARTING`: the
 * optional seed data, the ranker's pools and the ingest consumer. Ready only when all of them are.
 * A failed start closes what it opened and rejects.
 */
export async function startServer(role: Role, config: ServerConfig, options: StartOptions): Promise<RunningServer> {
  const { logger } = options;
  const clock = options.clock ?? Date.now;
  const lifecycle = new Lifecycle();
  const metrics = createMetricsRegistry();
  const clients = await createClients(config, logger, metrics, role);
  logger.info({ role, bus: clients.mode.bus, store: clients.mode.store }, 'server starting');
  if (role === 'ingest' && clients.mode.store === 'memory') {
    warnOfPrivateIngestStore(logger);
  }
  const app = createApp(role, config, logger);
  try {
    return await startRoles({ role, config, logger, clock, lifecycle, metrics, clients, app });
  } catch (error) {
    await app.close().catch((closeError: unknown) => logger.error({ err: closeError }, 'http server close failed after a failed start'));
    await clients.close().catch((closeError: unknown) => logger.error({ err: closeError }, 'clients close failed after a failed start'));
    throw error;
  }
}

interface StartParts {
  role: Role;
  config: ServerConfig;
  logger: Logger;
  clock: () => number;
  lifecycle: Lifecycle;
  metrics: ReturnType<typeof createMetricsRegistry>;
  clients: Clients;
  app: FastifyInstance;
}

async function startRoles(parts: StartParts): Promise<RunningServer> {
  const { role, config, logger, clock, lifecycle, metrics, clients, app } = parts;
  // Every reply, the collector's and the health routes' too, names its request id, so a client can
  // quote the id that the error log lines carry.
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await registerCors(app, config.process.corsAllowedOrigins);
  closeConnectionsWhileDraining(app, lifecycle);
  rejectRequestsUnlessReady(app, lifecycle);
  countResponses(app, metrics);
  registerFallbackHandlers(app);
  registerHealthRoutes(app, lifecycle, metrics);

  let ranker: Ranker | undefined;
  if (role === 'ranker' || role === 'all') {
    ranker = new Ranker({ config: config.ranker, store: clients.rankerStore, logger, metrics, clock, changeNotices: clients.changeNotices });
    const rankerRoutes = ranker;
    await app.register(async (scope) => {
      limitRouteBodies(scope, config.ranker.bodyLimitBytes);
      // Where the collector runs beside the ranker, one `/docs` describes both.
      await rankerRoutes.register(scope, role === 'all' ? [buildCollectorOpenApi()] : []);
    });
    if (role === 'all' && clients.mode.store === 'memory') {
      await ranker.registerDemo(app);
    }
    await ranker.loadModel();
  }

  let processor: IngestProcessor | undefined;
  if (role === 'ingest' || role === 'all') {
    processor = new IngestProcessor({
      config: config.ingest,
      store: clients.ingestStore,
      bus: clients.bus,
      logger,
      metrics,
      clock,
      onSessionsChanged: (sessionIds) => clients.changeNotices.publishSessions(sessionIds),
      onItemsChanged: (itemIds) => clients.changeNotices.publishItems(itemIds),
    });
    await app.register(async (scope) => {
      installErrorHandler(scope, INGEST_HTTP_CODES);
      registerCollectorRoutes(scope, { config: config.ingest, bus: clients.bus, metrics, clock });
      if (role === 'ingest') {
        registerCollectorOpenApiRoutes(scope);
      }
    });
    if (clients.bus instanceof KafkaBus) {
      warnOfShortShutdownTimeout(config, logger);
      await clients.bus.connect();
    }
  }

  // Listening before the seed makes a port in use fail at once. Until the start is complete, every
  // route but the health routes replies 503.
  await app.listen({ port: config.process.port, host: config.process.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.process.port;
  const url = serverUrl(config.process.host, port);
  logger.info({ url, role }, 'server listening');

  if (shouldSeed(config, clients)) {
    await seedMovieLens(clients.ingestStore, config.process.movielensDir, clock(), logger);
  }
  await ranker?.start();
  let subscription: Subscription | undefined;
  if (processor !== undefined) {
    const ingest = processor;
    subscription = await clients.bus.subscribe({
      groupId: config.ingest.consumerGroupId,
      topics: ingest.topics,
      fromBeginning: true,
      handleBatch: (batch) => ingest.handleBatch(batch),
    });
  }

  lifecycle.moveTo('ready');
  logger.info({ url, role }, 'server ready');

  let closing: Promise<ShutdownOutcome> | undefined;
  const close = () =>
    (closing ??= shutDown({ app, subscription, ranker, clients, lifecycle, logger, timeoutMs: config.process.shutdownTimeoutMs }));
  return { url, app, clients, ranker, lifecycle, close };
}

/** Creates the HTTP server of `role`, with no routes yet. */
function createApp(role: Role, config: ServerConfig, logger: Logger): FastifyInstance {
  return Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's default generic types.
    loggerInstance: logger as FastifyBaseLogger,
    // Each service's routes carry their own limit; this one covers bodies sent to any other route.
    bodyLimit: serverBodyLimit(role, config),
    // Per-request lines would dominate the log at feed rates; errors are logged by the error handlers.
    logController: new LogController({ disableRequestLogging: true }),
    // A client's x-request-id becomes the request id of every log line when it is a short printable
    // token. Anything else gets a generated id, so a client cannot flood the logs.
    genReqId: requestIdOf,
    // A client that stops sending its request gets 408 and its connection is closed, so it cannot
    // hold the connection, or a graceful shutdown, open.
    requestTimeout: config.process.httpRequestTimeoutMs,
    http: requestTimeoutOptions(config.process.httpRequestTimeoutMs),
    // Requests that arrive while the server drains get the documented 503 of
    // rejectRequestsUnlessReady instead of fastify's own body.
    return503OnClosing: false,
    // A path that is not valid percent-encoding, such as /%ZZ, gets the documented 400 with a
    // request id, logged and counted, instead of fastify's own body.
    frameworkErrors: replyToFrameworkError,
  });
}

/**
 * Warns that an ingest process without REDIS_URL or REDIS_CLUSTER_NODES writes the features, and
 * any seed data, to an in-memory store of its own, which no ranker process can read. It still
 * starts, because the collector and the consumer can be tried that way.
 */
function warnOfPrivateIngestStore(logger: Logger): void {
  logger.warn(
    {
      setting: 'REDIS_URL',
      hint: 'set REDIS_URL (or REDIS_CLUSTER_NODES) to the Redis that the ranker processes use, so that they can read the features; or run --role all for one process with the in-memory store',
    },
    'ingest without REDIS_URL writes features to an in-memory store that no ranker process can read',
  );
}

/**
 * Warns when SHUTDOWN_TIMEOUT_MS is not above KAFKA_SESSION_TIMEOUT_MS. A SIGTERM during a group
 * rebalance waits for the rejoin before the consumer leaves, and the rejoin can take up to the
 * session timeout, so such a shutdown can time out and exit 1 with nothing in flight.
 */
function warnOfShortShutdownTimeout(config: ServerConfig, logger: Logger): void {
  const { shutdownTimeoutMs, kafkaSessionTimeoutMs } = config.process;
  if (shutdownTimeoutMs > kafkaSessionTimeoutMs) {
    return;
  }
  logger.warn(
    {
      shutdownTimeoutMs,
      kafkaSessionTimeoutMs,
      hint: 'set SHUTDOWN_TIMEOUT_MS above KAFKA_SESSION_TIMEOUT_MS, and the grace period of the supervisor above SHUTDOWN_TIMEOUT_MS',
    },
    'shutdown timeout is not above the kafka session timeout, so a shutdown during a rebalance can time out',
  );
}

/**
 * Asks clients to close their connection on every reply sent while the server drains. fastify's
 * close() ends the connections that are idle when it starts, but a keep-alive connection whose
 * request was in flight then stays open after its reply, holding the close for fastify's 72 s
 * keep-alive timeout, past the shutdown timeout.
 */
function closeConnectionsWhileDraining(app: FastifyInstance, lifecycle: Lifecycle): void {
  app.addHook('onSend', async (_request, reply) => {
    if (lifecycle.state === 'draining') {
      void reply.header('connection', 'close');
    }
  });
}

/** Interval of Node's check for requests past their timeout, in ms. */
const REQUEST_TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** Node's default headers timeout, in ms. */
const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;

/**
 * Returns the Node server options that make `requestTimeout` hold for a request body too. Node's
 * constructor rejects a headers timeout longer than the request timeout, and derives it as the
 * shorter of 60 s and the request timeout. fastify sets `requestTimeout` only after creating the
 * server, which keeps the 60 s headers timeout. Measured on Node 20.20, a request whose body
 * stopped was then cut off after the headers timeout, not the request timeout, and only at the next
 * check, which Node runs every 30 s by default.
 */
function requestTimeoutOptions(requestTimeoutMs: number): ServerOptions {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(DEFAULT_HEADERS_TIMEOUT_MS, requestTimeoutMs),
    connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_INTERVAL_MS,
  };
}

/**
 * Returns the URL a client uses to reach `host` and `port`, with an IPv6 address in brackets. A
 * wildcard address (`0.0.0.0`, `::`) accepts connections on every interface but is no address to
 * connect to, so its URL names the loopback address of the same family.
 */
export function serverUrl(host: string, port: number): string {
  let reachable = host;
  if (host === '0.0.0.0') {
    reachable = '127.0.0.1';
  } else if (host === '::') {
    reachable = '::1';
  }
  return isIPv6(reachable) ? `http://[${reachable}]:${port}` : `http://${reachable}:${port}`;
}

/** Returns the body limit of the server: the larger of the limits of the roles it runs. */
function serverBodyLimit(role: Role, config: ServerConfig): number {
  const limits = [];
  if (role === 'ingest' || role === 'all') {
    limits.push(config.ingest.collectorBodyLimitBytes);
  }
  if (role === 'ranker' || role === 'all') {
    limits.push(config.ranker.bodyLimitBytes);
  }
  return Math.max(...limits);
}

/** Gives every route registered later in `scope` the body limit `bytes`, unless the route sets its own. */
function limitRouteBodies(scope: FastifyInstance, bytes: number): void {
  scope.addHook('onRoute', (route) => {
    route.bodyLimit ??= bytes;
  });
}

/**
 * Registers CORS for the configured origins before any route. With none configured no route sends
 * CORS headers and a preflight gets 404, so browsers keep pages of other origins from reading replies.
 */
async function registerCors(app: FastifyInstance, allowedOrigins: readonly string[]): Promise<void> {
  await app.register(cors, {
    origin: allowedOrigins.length === 0 ? false : [...allowedOrigins],
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['content-type', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
    // The strict check replies to a preflight without Origin in text/plain. Without it every reply
    // keeps the documented JSON error shape.
    strictPreflight: false,
  });
}

function shouldSeed(config: ServerConfig, clients: Clients): boolean {
  const seed = config.process.seedDataset;
  return seed === 'movielens' || (seed === 'auto' && clients.mode.store === 'memory');
}

interface ShutdownParts {
  app: FastifyInstance;
  subscription: Subscription | undefined;
  ranker: Ranker | undefined;
  clients: Clients;
  lifecycle: Lifecycle;
  logger: Logger;
  timeoutMs: number;
}

/**
 * Stops accepting requests and lets in-flight ones finish, stops consuming (committing what was
 * processed, and on the in-process bus first handling every event the collector acknowledged),
 * then closes the bus and the stores. Gives up after `timeoutMs` and resolves `timed-out`, leaving
 * the unfinished steps running.
 */
async function shutDown(parts: ShutdownParts): Promise<ShutdownOutcome> {
  parts.lifecycle.moveTo('draining');
  parts.logger.info({ timeoutMs: parts.timeoutMs }, 'server draining');
  // The in-process bus loses its records with the process, so the consumer drains them once the
  // collector produces no more. The drain ends at the shutdown timeout, where the bus logs how many
  // records it left. Kafka keeps uncommitted records for the next consumer and ignores the drain.
  const drainDeadline = new AbortController();
  const stopConsuming = async () => {
    await parts.subscription?.stop({ drain: true, signal: drainDeadline.signal });
  };
  const steps = async () => {
    await parts.app.close();
    await stopConsuming();
    await parts.ranker?.stop();
    await parts.clients.close();
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      // Aborts a drain in progress, or stops the consumer at once when the HTTP server is still
      // closing, so that the bus logs the records it leaves before the process exits.
      drainDeadline.abort();
      stopConsuming().catch((error: unknown) => parts.logger.error({ err: error }, 'consumer stop failed after the shutdown timeout'));
      resolve('timeout');
    }, parts.timeoutMs);
    timer.unref();
  });
  const outcome = await Promise.race([steps().then(() => 'done' as const), timeout]);
  clearTimeout(timer);
  parts.lifecycle.moveTo('stopped');
  if (outcome === 'timeout') {
    parts.logger.error({ timeoutMs: parts.timeoutMs }, 'shutdown timed out; exiting with work in flight');
    return 'timed-out';
  }
  parts.logger.info({}, 'server stopped');
  return 'stopped';
}

/** Maximum length of a client's request id that is kept, in characters; a longer one is replaced. */
const MAX_REQUEST_ID_LENGTH = 128;
const REQUEST_ID_PATTERN = /^[\x21-\x7e]+$/;

/** Returns the client's x-request-id when it is a printable ASCII token of at most 128 characters, else a new UUID. */
export function requestIdOf(request: { headers: Record<string, string | string[] | undefined> }): string {
  const header = request.headers['x-request-id'];
  if (typeof header === 'string' && header.length <= MAX_REQUEST_ID_LENGTH && REQUEST_ID_PATTERN.test(header)) {
    return header;
  }
  return randomUUID();
}
