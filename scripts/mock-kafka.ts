/**
 * Runs a librdkafka mock Kafka cluster on loopback with the topics that ingest reads and writes,
 * prints its bootstrap address and the settings that ingest and ranker need, and runs until
 * SIGINT (Ctrl-C) or SIGTERM. The cluster keeps its records in memory only. The first run compiles
 * the helper in packages/testkit/native, which needs a C compiler and the librdkafka headers.
 *
 *   npm run mock-kafka -- [--partitions 3] [--brokers 1]
 */
import { parseArgs } from 'node:util';
import { TOPICS, topicName } from '@nexttap/bus';
import { parseServerConfig } from '@nexttap/cli';
import { startMockKafka } from '@nexttap/testkit';

const { values } = parseArgs({
  options: {
    partitions: { type: 'string', default: '3' },
    brokers: { type: 'string', default: '1' },
  },
});
const partitions = wholeNumberFlag('partitions', values.partitions, 1, 1_000);
const brokers = wholeNumberFlag('brokers', values.brokers, 1, 64);
// TOPIC_PREFIX is read the way the server reads it, so that the topics match those of ingest.
const topicPrefix = parseServerConfig(process.env).ingest.topicPrefix;
const topics = Object.values(TOPICS).map((name) => ({ name: topicName(topicPrefix, name), partitions }));

const cluster = await startMockKafka({ brokers, topics });
const bootstrap = cluster.brokers.join(',');
// The mock cluster assigns partitions only after the session timeout less 1 s, so shorter Kafka
// timings than the defaults let a consumer group form in seconds (docs/operations.md).
const kafkaSettings = `KAFKA_BROKERS=${bootstrap} KAFKA_SESSION_TIMEOUT_MS=3000 KAFKA_HEARTBEAT_INTERVAL_MS=1000`;
process.stdout.write(
  [
    `mock Kafka cluster ready: KAFKA_BROKERS=${bootstrap}`,
    `topics: ${topics.map((topic) => topic.name).join(', ')} (${partitions} partitions each)`,
    'run ingest and ranker against it, sharing a Redis of your own, for example:',
    `  ${kafkaSettings} REDIS_URL=redis://127.0.0.1:6379/0 PORT=8081 npx nexttap serve --role ingest`,
    `  REDIS_URL=redis://127.0.0.1:6379/0 SEED_DATASET=movielens PORT=8080 npx nexttap serve --role ranker`,
    'press Ctrl-C to stop; the records are lost when the cluster stops',
    '',
  ].join('\n'),
);

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  // npm forwards Ctrl-C as a second SIGINT, which must not start a second stop.
  if (stopping) {
    return;
  }
  stopping = true;
  process.stdout.write(`${signal} received; stopping the mock Kafka cluster\n`);
  cluster.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`mock-kafka: stopping the cluster failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

/** Parses a whole-number flag within `min` and `max`, or exits with code 2 naming the flag. */
function wholeNumberFlag(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    process.stderr.write(`mock-kafka: --${name} ${text} is invalid; use a whole number from ${min} to ${max}\n`);
    process.exit(2);
  }
  return value;
}
