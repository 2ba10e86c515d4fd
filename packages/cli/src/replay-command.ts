import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTimestamp } from '@nexttap/events';
import { rankerConfigSchema } from '@nexttap/ranker/config';
import {
  BASELINE_NAMES,
  checkComparable,
  compareReports,
  createProgressPrinter,
  describeError,
  loadModels,
  loadRegistryModels,
  MAX_K,
  MAX_SEED,
  prepareOutputDirectory,
  readJsonlInput,
  readKafkaInput,
  readMovieLensInput,
  readReport,
  renderComparison,
  renderSummary,
  REPLAY_ERROR_CODES,
  REPORT_FILES,
  ReplayError,
  runReplay,
  writeReports,
  type BaselineName,
  type RankingModel,
  type ReplayInput,
  type ReplayOptions,
  type TopicPosition,
} from '@nexttap/replay';
import { RedisFeatureStore } from '@nexttap/store';
import type { Redis } from 'ioredis';
import { findMovieLensFolderProblem } from './movielens-folder';
import { invalidFlag, parseReplayArgs, REPLAY_USAGE, type ReplayFlags } from './replay-flags';
import { describeNoPoints, describeRejectedListing, describeShortNegatives } from './replay-warnings';

/** Streams and environment of one command run, so tests can pass their own. */
export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  environment: Readonly<Record<string, string | undefined>>;
}

/** MovieLens folder of `--dataset movielens` when `--data-dir` is not given. */
const DEFAULT_DATA_DIR = 'data/movielens';

/** Flags that only one source reads, with the source flag they belong to. */
const SOURCE_FLAGS: Readonly<Record<string, '--dataset' | '--events' | '--topic'>> = {
  'data-dir': '--dataset',
  limit: '--dataset',
  catalog: '--events',
  'catalog-topic': '--topic',
  'kafka-brokers': '--topic',
  'from-offset': '--topic',
  'from-time': '--topic',
  'to-offset': '--topic',
  'to-time': '--topic',
};

/** The flags that `--compare` reads. It reads two reports, so no other flag has an effect on it. */
const COMPARE_FLAGS: ReadonlySet<string> = new Set(['compare', 'seed', 'bootstrap', 'help']);

/**
 * Runs `nexttap replay` and returns the exit code. It is 0 on success, and 2 for a usage error: an
 * invalid or missing flag value, or flags that do not go together. It is 1 when an input, a model,
 * a report, Redis or the output folder fails. Every failure is one line on stderr that names the
 * flag or file.
 */
export async function runReplayCommand(args: readonly string[], io: CommandIo): Promise<number> {
  try {
    const { values, positionals, passedFlags } = parseReplayArgs(args);
    if (values.help) {
      io.stdout.write(REPLAY_USAGE);
      return 0;
    }
    if (values.compare) {
      checkCompareFlags(passedFlags);
      await compareCommand(values, positionals, io);
      return 0;
    }
    if (positionals.length > 0) {
      throw invalidFlag(`unexpected argument ${positionals[0] ?? ''}; flags take their value after them, such as --k 5,10`);
    }
    await replayCommand(values, passedFlags, io);
    return 0;
  } catch (error) {
    io.stderr.write(`nexttap replay: ${describeError(error).split('\n')[0] ?? ''}\n`);
    return error instanceof ReplayError && error.code === REPLAY_ERROR_CODES.invalidOption ? 2 : 1;
  }
}

async function replayCommand(values: ReplayFlags, passedFlags: ReadonlySet<string>, io: CommandIo): Promise<void> {
  const options = parseReplayFlags(values);
  const topicRange = parseTopicRange(values);
  await checkModelsDirectory(values, passedFlags);
  const models = await loadNamedModels(values, io.environment);
  let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
  const progress = createProgressPrinter(io.stderr);
  try {
    const input = await readInput(values, topicRange, io);
    if (input.events.length === 0) {
      throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `the input has no valid event to replay${describeRejections(input.rejected)}; check the file or topic`);
    }
    // The full protocol ranks the generated candidates, and candidate generation drops every item
    // without a catalog record, so without catalog records every metric would be 0.
    if (options.protocol === 'full' && input.catalog.length === 0) {
      const message = `the input has no catalog record${describeRejections(input.rejected)}, but --protocol full ranks generated candidates, which come from catalog records; ${describeCatalogFix(values)}`;
      // Without a catalog flag the flags are at fault. With one, the catalog's content is.
      throw hasCatalogSource(values) ? new ReplayError(REPLAY_ERROR_CODES.unreadableInput, message) : invalidFlag(message);
    }
    await prepareOutputDirectory(values.out);
    if (values['redis-url'] !== undefined) {
      redis = await connectRedis(values['redis-url']);
      io.stderr.write(`nexttap replay: ${REDIS_CLOCK_WARNING}\n`);
    }
    const store = redis;
    const { report, timings } = await runReplay({
      ...options,
      input,
      models,
      onProgress: progress.onProgress,
      progressEvents: 10_000,
      ...(store === undefined ? {} : { createStore: () => new RedisFeatureStore(store.client, { keyPrefix: store.prefix }), storeKind: 'redis' as const }),
    });
    progress.finish();
    const written = await writeReports(values.out, report, timings);
    io.stdout.write(`${renderSummary(report, timings)}\nwrote ${written.join(', ')}\n`);
    if (input.rejected.count > 0) {
      const listing = describeRejectedListing(report.rejected, join(values.out, REPORT_FILES.report));
      io.stderr.write(`nexttap replay: skipped invalid records${describeRejections(input.rejected)}; ${listing}\n`);
    }
    if (report.counts.evaluationPoints === 0) {
      io.stderr.write(`nexttap replay: no point was evaluated: ${describeNoPoints(report)}\n`);
    }
    const shortNegatives = describeShortNegatives(report);
    if (shortNegatives !== undefined) {
      io.stderr.write(`nexttap replay: ${shortNegatives}\n`);
    }
  } finally {
    progress.finish();
    await Promise.all(models.map((model) => model.release()));
    await redis?.close();
  }
}

/** Tells whether the flags name a catalog. MovieLens always has one, a log needs --catalog and a topic --catalog-topic. */
function hasCatalogSource(values: ReplayFlags): boolean {
  return values.dataset !== undefined || values.catalog !== undefined || values['catalog-topic'] !== undefined;
}

/** Returns how to supply catalog records for the source in use, for an error message. */
function describeCatalogFix(values: ReplayFlags): string {
  const sampled = 'or rank the target among sampled items with --protocol sampled';
  if (values.events !== undefined) {
    return values.catalog === undefined ? `pass --catalog FILE.jsonl with the items, ${sampled}` : `check that the --catalog files have valid catalog records, ${sampled}`;
  }
  if (values.topic !== undefined) {
    const topic = values['catalog-topic'];
    return topic === undefined ? `pass --catalog-topic NAME with the items, ${sampled}` : `check that --catalog-topic ${topic} has valid catalog records, ${sampled}`;
  }
  return `check that --data-dir has the MovieLens movies file, ${sampled}`;
}

/** Describes rejected input records for a one-line message: their count, codes and the first one. */
function describeRejections(rejected: ReplayInput['rejected']): string {
  if (rejected.count === 0) {
    return '';
  }
  const codes = Object.entries(rejected.byCode)
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
  const first = rejected.first === undefined ? '' : `; first at ${rejected.first.location}: ${rejected.first.code} ${rejected.first.message}`;
  return ` (${rejected.count} rejected: ${codes}${first})`;
}

/** Negatives drawn per target under `--protocol sampled` when `--negatives` is not given. */
const DEFAULT_NEGATIVES = 100;

/**
 * Minimum resamples that `--bootstrap` takes. With N resamples the smallest non-zero p-value is
 * 2/N, which is below 0.05 from N = 41. The minimum is 100 so that the 95% interval's bounds are
 * the 3rd lowest and 3rd highest resample, not the lowest and highest.
 */
const MIN_BOOTSTRAP_RESAMPLES = 100;
/**
 * Maximum resamples that `--bootstrap` takes. 1,000 resamples of the 7,876 MovieLens points take
 * about 0.5 s, so 100,000 take about a minute, and each interval keeps one double per resample.
 * More would run for hours without narrowing an interval's estimate noticeably.
 */
const MAX_BOOTSTRAP_RESAMPLES = 100_000;

/** Checks the flags that need no input; throws on the first invalid one. */
function parseReplayFlags(values: ReplayFlags): Omit<ReplayOptions, 'input'> {
  const protocol = values.protocol;
  if (protocol !== 'full' && protocol !== 'sampled') {
    throw invalidFlag(`--protocol ${protocol} is invalid; pass full or sampled`);
  }
  if (values.negatives !== undefined && protocol !== 'sampled') {
    throw invalidFlag('--negatives applies to --protocol sampled only; add --protocol sampled or leave --negatives out');
  }
  checkSourceFlags(values);
  const ks = parseList('--k', values.k).map(parseK);
  if (ks.some((k, index) => index > 0 && k <= (ks[index - 1] as number))) {
    throw invalidFlag(`--k ${values.k} is invalid; pass distinct cut-offs in ascending order, such as 5,10,20`);
  }
  return {
    protocol,
    negatives: parseCount('--negatives', values.negatives ?? String(DEFAULT_NEGATIVES), 1),
    seed: parseCount('--seed', values.seed, 0, MAX_SEED),
    ks,
    poolRefreshEvents: parseCount('--pool-refresh-events', values['pool-refresh-events'], 1),
    bootstrapResamples: parseCount('--bootstrap', values.bootstrap, MIN_BOOTSTRAP_RESAMPLES, MAX_BOOTSTRAP_RESAMPLES),
    baselines: parseBaselines(values.baselines),
    ...(values.cutoff === undefined ? {} : { cutoffMs: parseTime('--cutoff', values.cutoff) }),
  };
}

/** Parses one cut-off of `--k`: the replay ranks `MAX_K` items, so a larger K is rejected before the replay runs. */
function parseK(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > MAX_K) {
    throw invalidFlag(`--k ${text} is invalid; pass a whole number from 1 to ${MAX_K}, the depth of the ranking, or a comma-separated list of them`);
  }
  return value;
}

/** Checks that exactly one source is given and that no flag of another source is. */
function checkSourceFlags(values: ReplayFlags): void {
  const sources = (['dataset', 'events', 'topic'] as const).filter((name) => values[name] !== undefined);
  const [source] = sources;
  if (source === undefined || sources.length > 1) {
    throw invalidFlag('pass exactly one source: --dataset movielens, --events FILE or --topic NAME');
  }
  for (const [flag, owner] of Object.entries(SOURCE_FLAGS)) {
    if (values[flag as keyof ReplayFlags] !== undefined && owner !== `--${source}`) {
      throw invalidFlag(`--${flag} applies to ${owner} only; leave it out when replaying --${source}`);
    }
  }
}

async function readInput(values: ReplayFlags, topicRange: TopicRange, io: CommandIo): Promise<ReplayInput> {
  if (values.dataset !== undefined) {
    if (values.dataset !== 'movielens') {
      throw invalidFlag(`--dataset ${values.dataset} is not a known dataset; the bundled one is movielens`);
    }
    const limit = values.limit === undefined ? undefined : parseCount('--limit', values.limit, 1);
    const directory = values['data-dir'] ?? DEFAULT_DATA_DIR;
    const problem = await findMovieLensFolderProblem({ flag: '--data-dir', directory, isDefault: values['data-dir'] === undefined });
    if (problem !== undefined) {
      throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, problem);
    }
    return readMovieLensInput(directory, limit);
  }
  if (values.events !== undefined) {
    for (const events of values.events) {
      await checkInputFile('--events', events, 'a JSON Lines file of interactions');
    }
    for (const catalog of values.catalog ?? []) {
      await checkInputFile('--catalog', catalog, 'a JSON Lines file of catalog records');
    }
    return readJsonlInput(values.events, values.catalog ?? []);
  }
  const brokers = parseBrokers(values['kafka-brokers'], io.environment.KAFKA_BROKERS);
  return readKafkaInput({
    brokers,
    topic: values.topic ?? '',
    ...(values['catalog-topic'] === undefined ? {} : { catalogTopic: values['catalog-topic'] }),
    ...topicRange,
    onWarning: (message) => io.stderr.write(`nexttap replay: ${message}\n`),
  });
}

/** The range of `--topic` that the position flags select. */
interface TopicRange {
  from?: TopicPosition;
  to?: TopicPosition;
}

/**
 * Parses the position flags of `--topic`. Two offsets or two times compare without a broker, so a
 * range that ends where or before it starts is rejected here, before connecting. An offset and a
 * time compare only after the broker maps the time to offsets.
 */
function parseTopicRange(values: ReplayFlags): TopicRange {
  const range = { ...parsePosition(values, 'from'), ...parsePosition(values, 'to') };
  const { from, to } = range;
  if (from === undefined || to === undefined) {
    return range;
  }
  if ('offset' in from && 'offset' in to && from.offset >= to.offset) {
    throw invalidFlag(
      `--from-offset ${from.offset} and --to-offset ${to.offset} select no record, because reading stops before --to-offset; pass a --from-offset below --to-offset`,
    );
  }
  if ('timeMs' in from && 'timeMs' in to && from.timeMs >= to.timeMs) {
    throw invalidFlag(
      `--from-time ${values['from-time'] ?? ''} and --to-time ${values['to-time'] ?? ''} select no record, because reading stops before --to-time; pass a --from-time earlier than --to-time`,
    );
  }
  return range;
}

function parsePosition(values: ReplayFlags, end: 'from' | 'to'): TopicRange {
  const offset = values[`${end}-offset`];
  const time = values[`${end}-time`];
  if (offset !== undefined && time !== undefined) {
    throw invalidFlag(`--${end}-offset and --${end}-time exclude each other; pass one`);
  }
  if (offset !== undefined) {
    return { [end]: { offset: parseCount(`--${end}-offset`, offset, 0) } };
  }
  return time === undefined ? {} : { [end]: { timeMs: parseTime(`--${end}-time`, time) } };
}

/**
 * Checks `--models-dir` when the command line passes it: only `--model` reads it, and its value
 * must be an existing folder.
 */
async function checkModelsDirectory(values: ReplayFlags, passedFlags: ReadonlySet<string>): Promise<void> {
  if (!passedFlags.has('models-dir')) {
    return;
  }
  const directory = values['models-dir'];
  if (values.model === undefined) {
    throw invalidFlag(
      `--models-dir ${directory} applies to --model only; add --model NAME[@VERSION] to evaluate a model from that folder, or leave --models-dir out (without --model, replay evaluates the ranker's model in MODEL_DIR)`,
    );
  }
  let isFolder: boolean;
  try {
    isFolder = (await stat(directory)).isDirectory();
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.invalidModel, `--models-dir ${directory} ${statProblem(error)}; pass the folder that contains the model folders NAME/VERSION, such as --models-dir models`, { cause: error });
  }
  if (!isFolder) {
    throw new ReplayError(REPLAY_ERROR_CODES.invalidModel, `--models-dir ${directory} is a file, not a folder; pass the folder that contains the model folders NAME/VERSION, such as --models-dir models`);
  }
}

/** Loads the models of `--model`, or the ranker's model when none is named. */
async function loadNamedModels(values: ReplayFlags, environment: CommandIo['environment']): Promise<RankingModel[]> {
  if (values['no-model']) {
    if (values.model !== undefined) {
      throw invalidFlag('--no-model and --model exclude each other; pass one');
    }
    return [];
  }
  if (values.model === undefined) {
    return loadModels([rankerConfigSchema.shape.modelDir.parse(environment.MODEL_DIR || undefined)]);
  }
  return loadRegistryModels(values['models-dir'], values.model);
}

/**
 * Connects to Redis for a replay in a fresh key namespace, deleted again by `close`.
 *
 * NOTE: Redis expires keys on its own clock, not the replay's event clock, so no key expires during
 * a replay. Reports then match the in-memory store only for logs shorter than the shortest feature
 * TTL (one day for sessions), as the test on a short log shows.
 *
 * @throws ReplayError `REPLAY_ERR_UNREADABLE_INPUT` with the error code when the first connection fails
 */
async function connectRedis(url: string): Promise<{ client: Redis; prefix: string; close: () => Promise<void> }> {
  if (!/^rediss?:\/\//.test(url)) {
    throw invalidFlag(`--redis-url ${url} is invalid; pass a URL such as redis://127.0.0.1:6379/0`);
  }
  // The first connection gets no retry, so an unreachable server fails with one message instead
  // of ioredis retrying and logging every failure. Once connected, the client reconnects as usual.
  // Loaded here rather than with the module, so a replay on the in-memory store does not load the Redis client.
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, retryStrategy: () => null });
  let lastError: unknown;
  client.on('error', (error: unknown) => {
    lastError = error;
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const cause = lastError ?? error;
    const code = (cause as { code?: unknown }).code;
    const reason = typeof code === 'string' ? code : describeError(cause);
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `--redis-url ${url}: connecting failed (${reason}); start Redis there or fix the URL`, { cause });
  }
  // The default retry strategy of ioredis 5: wait 50 ms more per attempt, at most 2 s.
  client.options.retryStrategy = (attempts: number) => Math.min(attempts * 50, 2_000);
  const prefix = `nexttap-replay:${randomBytes(6).toString('hex')}:`;
  return {
    client,
    prefix,
    async close() {
      try {
        let cursor = '0';
        do {
          const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (found.length > 0) {
            await client.unlink(...found);
          }
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    },
  };
}

/** Warning printed for every `--redis-url` replay. */
const REDIS_CLOCK_WARNING =
  "--redis-url: keys expire on Redis's clock, not the replay's event clock, so sessions and co-visitation lists outlive their TTLs and results differ from an in-memory replay of the same log";

/** Rejects the flags on the command line that `--compare` does not read, naming them. */
function checkCompareFlags(passedFlags: ReadonlySet<string>): void {
  const unused = [...passedFlags].filter((name) => !COMPARE_FLAGS.has(name)).map((name) => `--${name}`);
  if (unused.length > 0) {
    const verb = unused.length === 1 ? 'does' : 'do';
    throw invalidFlag(`${unused.join(', ')} ${verb} not apply to --compare, which reads two reports and takes only --seed and --bootstrap; leave ${unused.length === 1 ? 'it' : 'them'} out`);
  }
}

async function compareCommand(values: ReplayFlags, positionals: readonly string[], io: CommandIo): Promise<void> {
  const [fileA, fileB, ...rest] = positionals;
  if (fileA === undefined || fileB === undefined || rest.length > 0) {
    throw invalidFlag('--compare takes two report files: nexttap replay --compare A.json B.json');
  }
  const resamples = parseCount('--bootstrap', values.bootstrap, MIN_BOOTSTRAP_RESAMPLES, MAX_BOOTSTRAP_RESAMPLES);
  const seed = parseCount('--seed', values.seed, 0, MAX_SEED);
  const reportA = await readReport(fileA);
  const reportB = await readReport(fileB);
  for (const warning of checkComparable(reportA, reportB, { a: fileA, b: fileB })) {
    io.stderr.write(`nexttap replay: ${warning}\n`);
  }
  const comparison = compareReports(reportA, reportB, { resamples, seed, level: reportA.settings.bootstrap.level });
  if (comparison.sharedPoints === 0) {
    throw new ReplayError(REPLAY_ERROR_CODES.invalidReport, `${fileA} and ${fileB} share no evaluation points; compare reports of the same events`);
  }
  io.stdout.write(renderComparison(comparison, { a: fileA, b: fileB }));
}

/** Reads the Kafka bootstrap servers from `--kafka-brokers`, else from KAFKA_BROKERS. */
function parseBrokers(flag: string | undefined, environment: string | undefined): string[] {
  if (flag !== undefined) {
    if (flag.trim() === '') {
      throw invalidFlag('--kafka-brokers is empty; pass the bootstrap servers as HOST:PORT[,...]');
    }
    return parseList('--kafka-brokers', flag);
  }
  if (environment === undefined || environment.trim() === '') {
    throw invalidFlag('--kafka-brokers is missing and KAFKA_BROKERS is not set; --topic reads from Kafka, so pass --kafka-brokers HOST:PORT[,...] or set KAFKA_BROKERS');
  }
  return parseList('KAFKA_BROKERS', environment);
}

function parseBaselines(text: string | undefined): BaselineName[] | undefined {
  if (text === undefined) {
    return undefined;
  }
  if (text === 'none') {
    return [];
  }
  const names = parseList('--baselines', text);
  const unknown = names.filter((name) => !(BASELINE_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw invalidFlag(`--baselines ${unknown.join(',')} is not a baseline; pass any of ${BASELINE_NAMES.join(', ')}, or none`);
  }
  return names as BaselineName[];
}

function parseList(flag: string, text: string): string[] {
  if (text.trim() === '') {
    throw invalidFlag(`${flag} is empty; pass comma-separated values`);
  }
  const items = text.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) {
    throw invalidFlag(`${flag} ${text} has an empty entry; pass comma-separated values`);
  }
  return items;
}

/** Parses a whole number from `minimum` to `maximum`, by default the largest exact integer of a double. */
function parseCount(flag: string, text: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < minimum || value > maximum) {
    throw invalidFlag(`${flag} ${text} is invalid; pass a whole number from ${minimum} to ${maximum}`);
  }
  return value;
}

/** Says why `stat` of a path failed: missing (ENOTDIR: a folder on the path is a file), or unreadable and why. */
function statProblem(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `could not be read (${describeError(error)})`;
}

/** Throws a ReplayError naming `flag` when `path` is missing, a folder or unreadable, before any event is read. */
async function checkInputFile(flag: string, path: string, expectedContent: string): Promise<void> {
  const fix = `pass ${expectedContent}, one JSON object per line (docs/replay.md gives the format)`;
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `${flag} ${path} ${statProblem(error)}; ${fix}`, { cause: error });
  }
  if (!isFile) {
    throw new ReplayError(REPLAY_ERROR_CODES.unreadableInput, `${flag} ${path} is not a file; ${fix}`);
  }
}

function parseTime(flag: string, text: string): number {
  const parsed = parseTimestamp(/^-?\d+$/.test(text) ? Number(text) : text);
  if (!parsed.ok) {
    // The timestamp messages are written for request bodies ("send ..."); a flag is passed.
    throw invalidFlag(`${flag} ${parsed.message.replaceAll('; send ', '; pass ')}`);
  }
  return parsed.ms;
}
