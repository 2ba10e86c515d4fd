import { InProcessBus, KafkaBus, TOPICS, topicName, type EventBus } from '@nexttap/bus';
import type { Logger } from '@nexttap/observability';
import { MemoryFeatureStore, RedisFeatureStore, type FeatureStore } from '@nexttap/store';
import { InProcessSessionChanges, RedisSessionChanges, sessionChangesChannel, type SessionChangeNotices } from '@nexttap/ranker';
import { Redis } from 'ioredis';
import type { ServerConfig } from './process-config';

/** Partitions of each in-process topic; more would only add interleaving within one process. */
const IN_PROCESS_PARTITIONS = 1;

/** The external clients of one process, with an ordered, idempotent close. */
export interface Clients {
  bus: EventBus;
  /** Store for the ingest role: waits and retries through Redis hiccups. */
  ingestStore: FeatureStore;
  /** Store for the request path: short command timeout and no offline queue, so an outage fails fast. */
  rankerStore: FeatureStore;
  /** Per-session change notices from ingest to the rankers' live feeds: in process, or Redis pub/sub. */
  sessionChanges: SessionChangeNotices;
  mode: { bus: 'kafka' | 'in-process'; store: 'redis' | 'memory' };
  close(): Promise<void>;
}

/** Creates the bus and the stores: Kafka and Redis when configured, in-process otherwise. */
export async function createClients(config: ServerConfig, logger: Logger): Promise<Clients> {
  const settings = config.process;
  const bus: EventBus =
    settings.kafkaBrokers.length > 0
      ? new KafkaBus({ brokers: settings.kafkaBrokers, clientId: settings.kafkaClientId, logger: logger.child({ component: 'kafka' }) })
      : new InProcessBus({
          logger: logger.child({ component: 'bus' }),
          topics: Object.values(TOPICS).map((name) => ({ name: topicName(config.ingest.topicPrefix, name), partitions: IN_PROCESS_PARTITIONS })),
        });
  if (settings.redisUrl === '') {
    const store = new MemoryFeatureStore();
    const sessionChanges = new InProcessSessionChanges();
    return {
      bus,
      ingestStore: store,
      rankerStore: store,
      sessionChanges,
      mode: { bus: settings.kafkaBrokers.length > 0 ? 'kafka' : 'in-process', store: 'memory' },
      close: once(async () => {
        await bus.close();
        await sessionChanges.close();
        await store.close();
      }),
    };
  }
  const ingestRedis = new Redis(settings.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  const rankerRedis = new Redis(settings.redisUrl, {
    lazyConnect: true,
    commandTimeout: settings.redisCommandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  // A subscribed connection accepts no other commands, so the change notices get their own.
  const subscriberRedis = new Redis(settings.redisUrl, { lazyConnect: true });
  for (const [role, client] of [['ingest', ingestRedis], ['ranker', rankerRedis], ['session-changes', subscriberRedis]] as const) {
    client.on('error', (error: Error) => logger.warn({ err: error, role }, 'redis connection error'));
  }
  await Promise.all([ingestRedis.connect(), rankerRedis.connect(), subscriberRedis.connect()]);
  const sessionChanges = new RedisSessionChanges(ingestRedis, subscriberRedis, sessionChangesChannel(settings.redisKeyPrefix), logger);
  return {
    bus,
    ingestStore: new RedisFeatureStore(ingestRedis, { keyPrefix: settings.redisKeyPrefix }),
    rankerStore: new RedisFeatureStore(rankerRedis, { keyPrefix: settings.redisKeyPrefix }),
    sessionChanges,
    mode: { bus: settings.kafkaBrokers.length > 0 ? 'kafka' : 'in-process', store: 'redis' },
    close: once(async () => {
      await bus.close();
      await sessionChanges.close();
      await Promise.allSettled([ingestRedis.quit(), rankerRedis.quit(), subscriberRedis.quit()]);
    }),
  };
}

function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= action());
}
