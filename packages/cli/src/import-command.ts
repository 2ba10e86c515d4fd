import { KafkaBus, TOPICS, topicName } from '@nexttap/bus';
import { toWireCatalogItem } from '@nexttap/events';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { createLogger } from '@nexttap/observability';
import { findMovieLensFolderProblem } from './movielens-folder';
import { ConfigError, ImportInputError } from './cli-errors';
import { parseServerConfig } from './process-config';

export { ImportInputError } from './cli-errors';

/** Records per produce call: the bus acknowledges each chunk before the next is sent. */
const PRODUCE_CHUNK = 500;

export interface ImportOptions {
  /** The folder of `movies.csv` and `ratings.csv`, the `--dir` flag. */
  directory: string;
  /** True when `--dir` was not passed and `directory` is its default, so that error messages mention the default. */
  directoryIsDefault?: boolean;
  limit?: number;
  /** Shift the history so that its last event is this many ms before now; undefined keeps the original times. */
  endAgoMs?: number;
}

/**
 * Produces the MovieLens catalog and ratings to the `catalog` and `interactions` topics of the
 * Kafka cluster in KAFKA_BROKERS, catalog first, so that ingest knows each item's categories
 * before its first rating. The folder and both files are checked and read before the first
 * connection to Kafka.
 *
 * @throws ImportInputError when the folder or one of its files is missing or of the wrong kind
 * @throws ConfigError when KAFKA_BROKERS or another setting is missing or invalid
 * @throws CsvError naming the file and line of the first malformed row
 */
export async function importMovieLens(options: ImportOptions, environment: NodeJS.ProcessEnv = process.env): Promise<{ items: number; events: number }> {
  const problem = await findMovieLensFolderProblem({ flag: '--dir', directory: options.directory, isDefault: options.directoryIsDefault ?? false });
  if (problem !== undefined) {
    throw new ImportInputError(problem);
  }
  const config = parseServerConfig(environment);
  if (config.process.kafkaBrokers.length === 0) {
    throw new ConfigError('KAFKA_BROKERS is not set; import produces to Kafka, so set it to the bootstrap servers (the embedded server seeds MovieLens itself)');
  }
  const catalog = await readMovieLensCatalog(options.directory);
  const events = await readMovieLensEvents(options.directory, {
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.endAgoMs === undefined ? {} : { shiftToMs: Date.now() - options.endAgoMs }),
  });
  const logger = createLogger({ level: config.process.logLevel, service: 'nexttap-import' });
  const bus = new KafkaBus({ brokers: config.process.kafkaBrokers, clientId: `${config.process.kafkaClientId}-import`, logger });
  try {
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
