import { BASELINE_NAMES, MAX_K, REPLAY_ERROR_CODES, ReplayError } from '@nexttap/replay';
import { FlagError, parseFlags } from './command-flags';

export const REPLAY_USAGE = `usage: nexttap replay SOURCE [options]
       nexttap replay --compare A.json B.json [--seed N] [--bootstrap N]

docs/replay.md gives the line formats of --events and --catalog; packages/replay/src/report-schema.ts
gives the fields of report.json.

source (one of):
  --dataset movielens          the MovieLens CSV files in --data-dir
  --events FILE                nexttap interactions as JSON Lines, gzip or not (repeatable)
  --topic NAME                 a Kafka topic of nexttap interactions

source options:
  --data-dir DIR               with --dataset: the folder of the MovieLens CSV files
                               (default data/movielens)
  --limit N                    with --dataset: only the earliest N ratings
  --catalog FILE               with --events: catalog items as JSON Lines, gzip or not (repeatable)
  --kafka-brokers HOST:PORT[,...]
                               with --topic: the bootstrap servers (default KAFKA_BROKERS)
  --catalog-topic NAME         with --topic: a Kafka topic of catalog items, read whole
  --from-offset N              with --topic: the first offset read in every partition (inclusive)
  --from-time TIME             with --topic: the first Kafka record timestamp read (inclusive)
  --to-offset N                with --topic: the offset in every partition where reading stops
                               (exclusive)
  --to-time TIME               with --topic: the Kafka record timestamp where reading stops
                               (exclusive)

The tests check --from-time and --to-time only for their errors, because the Kafka mock
they run against cannot look up offsets by timestamp. Check source.partitions in report.json
for the offsets a time selected.

The default --protocol full ranks candidates from catalog records, so --events needs --catalog
and --topic needs --catalog-topic.

options:
  --model NAME[@VERSION]       model under --models-dir, repeatable; NAME alone takes the highest
                               version folder, comparing numbers (10 after 9); default the ranker's
                               model (MODEL_DIR, else models/movielens-mlp/1)
  --models-dir DIR             with --model: the folder of the models it names (default models)
  --no-model                   evaluate the baselines only
  --baselines LIST             comma-separated from ${BASELINE_NAMES.join(', ')};
                               default popular,trending,covisit,random; none for no baseline
  --k LIST                     cut-offs of the top-K metrics, each from 1 to ${MAX_K} (default 5,10,20)
  --protocol full|sampled      rank the generated candidates, or the target among sampled
                               items (default full)
  --negatives N                with --protocol sampled: negatives drawn per target (default 100)
  --seed N                     seed of every random choice (default 1)
  --cutoff TIME                evaluate events from TIME (epoch ms or ISO-8601); default the
                               latest training cut-off of the models
  --pool-refresh-events N      events between candidate pool refreshes (default 1000)
  --bootstrap N                bootstrap resamples of each interval, 100 to 100000 (default 1000)
  --redis-url URL              replay into a private key namespace of this Redis instead of memory
  --out DIR                    folder of report.json, timings.json, report.md and charts
                               (default reports/replay)
  --help                       print this help
`;

export const REPLAY_FLAGS = {
  dataset: { type: 'string' },
  'data-dir': { type: 'string' },
  limit: { type: 'string' },
  events: { type: 'string', multiple: true },
  catalog: { type: 'string', multiple: true },
  topic: { type: 'string' },
  'catalog-topic': { type: 'string' },
  'kafka-brokers': { type: 'string' },
  'from-offset': { type: 'string' },
  'from-time': { type: 'string' },
  'to-offset': { type: 'string' },
  'to-time': { type: 'string' },
  model: { type: 'string', multiple: true },
  'models-dir': { type: 'string', default: 'models' },
  'no-model': { type: 'boolean', default: false },
  baselines: { type: 'string' },
  k: { type: 'string', default: '5,10,20' },
  protocol: { type: 'string', default: 'full' },
  negatives: { type: 'string' },
  seed: { type: 'string', default: '1' },
  cutoff: { type: 'string' },
  'pool-refresh-events': { type: 'string', default: '1000' },
  bootstrap: { type: 'string', default: '1000' },
  'redis-url': { type: 'string' },
  out: { type: 'string', default: 'reports/replay' },
  compare: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

type FlagName = keyof typeof REPLAY_FLAGS;

/** Names of the flags that take a value. */
type ValueFlagName = { [Name in FlagName]: (typeof REPLAY_FLAGS)[Name]['type'] extends 'string' ? Name : never }[FlagName];

/** The value each flag expects, with an example, for the message when the value is missing. */
const VALUE_EXAMPLES: Readonly<Record<ValueFlagName, string>> = {
  dataset: 'a dataset name, such as --dataset movielens',
  'data-dir': 'a folder, such as --data-dir data/movielens',
  limit: 'a number of events, such as --limit 20000',
  events: 'a JSON Lines file, such as --events events.jsonl',
  catalog: 'a JSON Lines file, such as --catalog catalog.jsonl',
  topic: 'a topic name, such as --topic interactions',
  'catalog-topic': 'a topic name, such as --catalog-topic catalog',
  'kafka-brokers': 'bootstrap servers, such as --kafka-brokers 127.0.0.1:9092',
  'from-offset': 'an offset, such as --from-offset 0',
  'from-time': 'a time, such as --from-time 2024-05-01T00:00:00Z',
  'to-offset': 'an offset, such as --to-offset 100000',
  'to-time': 'a time, such as --to-time 2024-06-01T00:00:00Z',
  model: 'a model, such as --model movielens-mlp@1',
  'models-dir': 'a folder, such as --models-dir models',
  baselines: 'a list of baselines, such as --baselines popular,covisit',
  k: 'a list of cut-offs, such as --k 5,10,20',
  protocol: 'full or sampled, such as --protocol sampled',
  negatives: 'a number of negatives per target, such as --negatives 100',
  seed: 'a whole number, such as --seed 7',
  cutoff: 'a time, such as --cutoff 2024-05-01T00:00:00Z',
  'pool-refresh-events': 'a number of events, such as --pool-refresh-events 1000',
  bootstrap: 'a number of resamples, such as --bootstrap 1000',
  'redis-url': 'a URL, such as --redis-url redis://127.0.0.1:6379/0',
  out: 'a folder, such as --out reports/replay',
};

export type ReplayFlags = ReturnType<typeof parseReplayArgs>['values'];

/**
 * Parses the arguments of `nexttap replay`.
 *
 * @throws ReplayError `REPLAY_ERR_INVALID_OPTION` naming the flag that is unknown, lacks its value,
 * or is repeated though it takes one value
 */
export function parseReplayArgs(args: readonly string[]) {
  // parseArgs reads `--k -1` as two flags, and the generic message for that names no range.
  const kIndex = args.indexOf('--k');
  const kValue = kIndex === -1 ? undefined : args[kIndex + 1];
  if (kValue !== undefined && /^-\d/.test(kValue)) {
    throw invalidFlag(`--k ${kValue} is invalid; pass a whole number from 1 to ${MAX_K}, the depth of the ranking, or a comma-separated list of them`);
  }
  try {
    return parseFlags('replay', args, REPLAY_FLAGS, VALUE_EXAMPLES);
  } catch (error) {
    throw error instanceof FlagError ? invalidFlag(error.message) : error;
  }
}

export function invalidFlag(message: string): ReplayError {
  return new ReplayError(REPLAY_ERROR_CODES.invalidOption, message);
}
