import { KafkaBus, TOPICS, topicName } from '@nexttap/bus';
import { toWireCatalogItem, type Interaction } from '@nexttap/events';
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
  /** Receives warnings about the produced events, one line each without a newline. Default: none. */
  onWarning?: (message: string) => void;
}

/** One day in milliseconds, the headroom the lateness warning adds for ingest to consume the events later. */
const DAY_MS = 86_400_000;

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
    const warning = latenessWarning(events, Date.now(), config.ingest.maxEventLatenessMs);
    if (warning !== undefined) {
      options.onWarning?.(warning);
    }
    return { items: catalog.length, events: events.length };
  } finally {
    await bus.close();
  }
}

/**
 * Returns a warning when some events are older than `maxEventLatenessMs`, so that an ingest with
 * that MAX_EVENT_LATENESS_MS dead-letters them as EVENT_TOO_LATE, or undefined when none is. The
 * import cannot read the setting of the ingest that consumes its events, so it checks against its
 * own MAX_EVENT_LATENESS_MS, which is the ingest default unless set in the import's environment.
 */
function latenessWarning(events: readonly Interaction[], nowMs: number, maxEventLatenessMs: number): string | undefined {
  const oldestAcceptedMs = nowMs - maxEventLatenessMs;
  let lateCount = 0;
  let oldestMs = Number.POSITIVE_INFINITY;
  for (const event of events) {
    if (event.ts < oldestAcceptedMs) {
      lateCount += 1;
    }
    oldestMs = Math.min(oldestMs, event.ts);
  }
  if (lateCount === 0) {
    return undefined;
  }
  // The oldest event's age, rounded up to whole days, plus a day for ingest to consume the events later.
  const acceptingAllMs = Math.ceil((nowMs - oldestMs) / DAY_MS) * DAY_MS + DAY_MS;
  return (
    `${lateCount} of ${events.length} events are older than MAX_EVENT_LATENESS_MS=${maxEventLatenessMs}, ` +
    'so an ingest with that setting dead-letters them as EVENT_TOO_LATE; ' +
    `run ingest with MAX_EVENT_LATENESS_MS=${acceptingAllMs} to accept them all`
  );
}
