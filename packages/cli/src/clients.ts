import { InProcessBus, KafkaBus, TOPICS, topicName, type EventBus } from '@nexttap/bus';
import type { Logger, Registry } from '@nexttap/observability';
import { MemoryFeatureStore, RedisClusterFeatureStore, RedisFeatureStore, type FeatureStore } from '@nexttap/store';
import { InProcessChangeNotices, RedisChangeNotices, type ChangeNotices } from '@nexttap/ranker';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { ServerConfig } from './process-config';
import { BYTES_PER_MB, reportMemoryStoreEvictions } from './memory-store-evictions';
import { checkRedisAtStart } from './redis-start-check';

/** Partitions of each in-process topic; more would only add interleaving within one process. */
const IN_PROCESS_PARTITIONS = 1;

/** The external clients of one process, with an ordered, idempotent close. */
export interface Clients {
  bus: EventBus;
  /** Store for the ingest role: waits and retries through Redis hiccups. */
  ingestStore: FeatureStore;
  /** Store for the request path: short command timeout and no offline queue, so an outage fails fast. */
  rankerStore: FeatureStore;
  /** Change notices from ingest to the rankers (sessions for live feeds, items for item caches): in process, or Redis pub/sub. */
  changeNotices: ChangeNotices;
  mode: { bus: 'kafka' | 'in-process'; store: 'redis' | 'redis-cluster' | 'memory' };
  close(): Promise<void>;
}

/** The server roles that a process runs; only `ranker` and `all` serve feeds. */
export type ClientRole = 'ingest' | 'ranker' | 'all';

/**
 * Creates the bus and the stores: Kafka and Redis when configured, in-process otherwise. `metrics`
 * receives the in-memory store's eviction counter. For `role` ingest no request-path Redis
 * connection is opened, and `rankerStore` is the ingest store, because nothing in that process serves feeds.
 */
export async function createClients(config: ServerConfig, logger: Logger, metrics?: Registry, role: ClientRole = 'all'): Promise<Clients> {
  const settings = config.process;
  const bus: EventBus =
    settings.kafkaBrokers.length > 0
      ? new KafkaBus({
          brokers: settings.kafkaBrokers,
          clientId: settings.kafkaClientId,
          // The bus binds its own `component` field (`kafka-bus`, and `kafkajs` on kafkajs lines).
          // A child logger with another one would write the key twice on every line.
          logger,
          consumer: {
            sessionTimeoutMs: settings.kafkaSessionTimeoutMs,
            heartbeatIntervalMs: settings.kafkaHeartbeatIntervalMs,
            rebalanceTimeoutMs: settings.kafkaRebalanceTimeoutMs,
            maxWaitTimeMs: settings.kafkaFetchMaxWaitMs,
            maxBatchRecords: settings.kafkaMaxBatchRecords,
          },
        })
      : new InProcessBus({
          // The bus adds its own `component` field; a child with another one would log the key twice.
          logger,
          topics: Object.values(TOPICS).map((name) => ({ name: topicName(config.ingest.topicPrefix, name), partitions: IN_PROCESS_PARTITIONS })),
        });
  if (settings.redisUrl === '' && settings.redisClusterNodes.length === 0) {
    const store = new MemoryFeatureStore({
      maxBytes: settings.memoryStoreMaxMb * BYTES_PER_MB,
      onEviction: reportMemoryStoreEvictions(logger, metrics),
    });
    const changeNotices = new InProcessChangeNotices();
    return {
      bus,
      ingestStore: store,
      rankerStore: store,
      changeNotices,
      mode: { bus: settings.kafkaBrokers.length > 0 ? 'kafka' : 'in-process', store: 'memory' },
      close: once(async () => {
        await bus.close();
        await changeNotices.close();
        await store.close();
      }),
    };
  }
  if (settings.redisClusterNodes.length === 0) {
    await checkRedisAtStart(settings.redisUrl);
  }
  const ingestRedis = createRedisClient(settings, { lazyConnect: true, maxRetriesPerRequest: null });
  const rankerRedis =
    role === 'ingest'
      ? ingestRedis
      : createRedisClient(settings, {
          lazyConnect: true,
          commandTimeout: settings.redisCommandTimeoutMs,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
        });
  // A subscribed connection accepts no other commands, so the change notices get their own. On
  // Redis Cluster a PUBLISH on one node reaches the subscribers of every node, so the notices use
  // plain connections to the first listed node.
  // NOTE: while that node is down, live feeds get no change notices, and rankers keep cached items
  // up to ITEM_CACHE_MAX_AGE_MS; feeds on request still work.
  const noticeUrl = settings.redisClusterNodes.length > 0 ? `redis://${settings.redisClusterNodes[0]}` : settings.redisUrl;
  const subscriberRedis = new Redis(noticeUrl, { lazyConnect: true });
  const publisherRedis = ingestRedis instanceof Redis ? ingestRedis : new Redis(noticeUrl, { lazyConnect: true });
  // Each label names the purpose of one connection, and log lines carry it as `client`.
  const connections: Array<[label: string, client: Redis | Cluster]> = [['ingest-store', ingestRedis]];
  if (rankerRedis !== ingestRedis) {
    connections.push(['ranker-store', rankerRedis]);
  }
  connections.push(['change-notice-subscriber', subscriberRedis]);
  if (publisherRedis !== ingestRedis) {
    connections.push(['change-notice-publisher', publisherRedis]);
  }
  for (const [label, client] of connections) {
    logConnectionErrors(client, label, logger);
    if (client instanceof Redis) {
      reconnectWhenSelectFails(client);
    }
  }
  await Promise.all(connections.map(([, client]) => client.connect()));
  const changeNotices = new RedisChangeNotices(publisherRedis, subscriberRedis, settings.redisKeyPrefix, logger);
  return {
    bus,
    ingestStore: createRedisStore(ingestRedis, settings.redisKeyPrefix),
    rankerStore: createRedisStore(rankerRedis, settings.redisKeyPrefix),
    changeNotices,
    mode: { bus: settings.kafkaBrokers.length > 0 ? 'kafka' : 'in-process', store: ingestRedis instanceof Cluster ? 'redis-cluster' : 'redis' },
    close: once(async () => {
      await bus.close();
      await changeNotices.close();
      await Promise.allSettled(connections.map(([, client]) => client.quit()));
    }),
  };
}

/** Creates a client with `options`: for Redis Cluster when REDIS_CLUSTER_NODES is set, else for REDIS_URL. */
function createRedisClient(settings: ServerConfig['process'], options: RedisOptions): Redis | Cluster {
  if (settings.redisClusterNodes.length === 0) {
    return new Redis(settings.redisUrl, options);
  }
  // The cluster takes the offline queue and connection settings itself; the rest apply to each node.
  const { lazyConnect, enableOfflineQueue, ...nodeOptions } = options;
  return new Cluster([...settings.redisClusterNodes], { lazyConnect, enableOfflineQueue, redisOptions: nodeOptions });
}

function createRedisStore(client: Redis | Cluster, keyPrefix: string): FeatureStore {
  return client instanceof Cluster ? new RedisClusterFeatureStore(client, { keyPrefix }) : new RedisFeatureStore(client, { keyPrefix });
}

function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= action());
}

/**
 * Closes and reopens the connection of `client` when Redis rejects the SELECT that ioredis sends
 * on each connect, as after a restart with fewer databases. ioredis 5.11 only emits that error and
 * then sends commands to database 0. The SELECT reply comes before the ready check's reply, so the
 * close comes first and the connection sends no command to database 0. The client then retries
 * with its reconnect backoff until the server accepts the database.
 */
export function reconnectWhenSelectFails(client: Redis): void {
  client.on('error', (error: Error & { command?: { name?: string } }) => {
    if (error.command?.name === 'select') {
      client.disconnect(true);
    }
  });
}

/**
 * Minimum time between two logged errors of one connection, in ms. ioredis reports every failed
 * reconnect attempt, several a second while Redis is down, so one line per 10 s with a count of the
 * rest carries the same information.
 */
const CONNECTION_ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Logs a connection's errors at most once per `CONNECTION_ERROR_LOG_INTERVAL_MS`, with the count
 * left out, and its recovery. Each line puts `label`, the connection's purpose, in `client`.
 */
export function logConnectionErrors(client: Redis | Cluster, label: string, logger: Logger): void {
  let lastLoggedMs = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  let failing = false;
  client.on('error', (error: Error) => {
    failing = true;
    const nowMs = Date.now();
    if (nowMs - lastLoggedMs < CONNECTION_ERROR_LOG_INTERVAL_MS) {
      suppressed += 1;
      return;
    }
    logger.warn({ err: error, client: label, suppressedErrors: suppressed }, 'redis connection error');
    lastLoggedMs = nowMs;
    suppressed = 0;
  });
  client.on('ready', () => {
    if (failing) {
      logger.info({ client: label, suppressedErrors: suppressed }, 'redis connection restored');
      failing = false;
      suppressed = 0;
      lastLoggedMs = Number.NEGATIVE_INFINITY;
    }
  });
}
