import { logLevel as KafkaLogLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

/**
 * Returns the most verbose kafkajs level that `logger` would print. kafkajs
 * reads its level once, so raising the pino level later does not make
 * kafkajs log more.
 */
export function kafkaLogLevelFor(logger: Logger): KafkaLogLevel {
  if (logger.isLevelEnabled('debug')) {
    return KafkaLogLevel.DEBUG;
  }
  if (logger.isLevelEnabled('info')) {
    return KafkaLogLevel.INFO;
  }
  if (logger.isLevelEnabled('warn')) {
    return KafkaLogLevel.WARN;
  }
  if (logger.isLevelEnabled('error')) {
    return KafkaLogLevel.ERROR;
  }
  return KafkaLogLevel.NOTHING;
}

/**
 * Creates a kafkajs `logCreator` that writes each kafkajs log entry to a
 * child of `logger` with `component: "kafkajs"`. The entry's fields come
 * first, the kafkajs text goes to `kafkajsMessage` and the pino message is
 * always "kafkajs". An `error` field becomes `err`, pino's key for errors.
 */
export function createKafkaLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () => (entry: LogEntry) => {
    const fields = toLogFields(entry);
    switch (entry.level) {
      case KafkaLogLevel.ERROR:
        kafkaLogger.error(fields, 'kafkajs');
        break;
      case KafkaLogLevel.WARN:
        kafkaLogger.warn(fields, 'kafkajs');
        break;
      case KafkaLogLevel.INFO:
        kafkaLogger.info(fields, 'kafkajs');
        break;
      default:
        kafkaLogger.debug(fields, 'kafkajs');
    }
  };
}

function toLogFields(entry: LogEntry): Record<string, unknown> {
  // kafkajs adds its own timestamp and `logger: "kafkajs"`. pino has a time field and the component binding.
  const { timestamp: _timestamp, logger: _logger, message, error, stack, ...fields } = entry.log;
  const result: Record<string, unknown> = { ...fields, namespace: entry.namespace, kafkajsMessage: message };
  if (error instanceof Error) {
    result.err = error;
  } else if (error !== undefined) {
    // kafkajs usually logs `error: e.message` with a separate `stack`.
    result.err = stack === undefined ? { message: String(error) } : { message: String(error), stack };
  } else if (stack !== undefined) {
    result.stack = stack;
  }
  return result;
}
