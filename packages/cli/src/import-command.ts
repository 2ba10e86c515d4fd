import { KafkaBus, TOPICS, topicName } from '@nexttap/bus';
import { toWireCatalogItem } from '@nexttap/events';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { ConfigError, parseServerConfig } from './process-config';

/** Records per produce call: the bus acknowledges each chunk before the next is sent. */
const PRODUCE_CHUNK = 500;

export interface ImportOptions {
  directory: string;
  limit?: number;
  /** Shift the history so that its last event is this many ms before now; undefined keeps the original times. */
  endAgoMs?: number;
}

/**
 * Produces the MovieLens catalog and ratings to the `catalog` and `interactions` topics of the
 * Kafka cluster in KAFKA_BROKERS, catalog first, so that ingest knows each item's categories
 * before its first rating.
 */
export async function importMovieLens(options: ImportOptions, environment: NodeJS.ProcessEnv = process.env): Promise<{ items: number; events: number }> {
  const config = parseServerConfig(environment);
  if (config.process.kafkaBrokers.length === 0) {
    throw new ConfigError('KAFKA_BROKERS is not set; import produces to Kafka, so set it to the bootstrap servers (the embedded server seeds MovieLens itself)');
  }
  const logger = createLogger({ level: config.process.logLevel, service: 'nexttap-import' });
  const bus = new KafkaBus({ brokers: config.process.kafkaBrokers, clientId: `${config.process.kafkaClientId}-import`, logger });
  try {
    const catalog = await readMovieLensCatalog(options.directory);
    const events = await readMovieLensEvents(options.directory, {
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.endAgoMs === undefined ? {} : { shiftToMs: Date.now() - options.endAgoMs }),
    });
    const catalogTopic = topicName(config.ingest.topicPrefix, TOPICS.catalog);
    const interactionsTopic = topicName(config.ingest.topicPrefix, TOPICS.interactions);
    for (let start = 0; start < catalog.length; start += PRODUCE_CHUNK) {
      const chunk = catalog.slice(start, start + PRODUCE_CHUNK);
      await bus.produce(catalogTopic, chunk.map((item) => ({ key: item.itemId, value: JSON.stringify(toWireCatalogItem(item)) })));
    }
    for (let start = 0; start < events.length; start += PRODUCE_CHUNK) {
      const chunk = events.slice(start, start + PRODUCE_CHUNK);
      await bus.produce(interactionsTopic, chunk.map((event) => ({ key: event.sessionId, value: JSON.stringify(event) })));
    }
    logger.info({ items: catalog.length, events: events.length, catalogTopic, interactionsTopic }, 'movielens import produced');
    return { items: catalog.length, events: events.length };
  } finally {
    await bus.close();
  }
}
