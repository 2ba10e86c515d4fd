/**
 * Trains the ranking model on MovieLens and writes `model.onnx` and `manifest.json`, the files the
 * ranker loads at start. Run it with `npm run train -- [options]`, where `USAGE` lists the options.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURE_SCHEMA_VERSION } from '@nexttap/features';
import { exportMlpToOnnx, loadRankingModel, manifestSchema, type ModelManifest } from '@nexttap/model';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { buildTrainingSet, DEFAULT_MAX_ANCHORS, DEFAULT_POOL_REFRESH_EVENTS, type TrainingSet } from './build-training-set';
import { formatTrainingCsv } from './export-csv';
import { evaluateRanker, exportFoldedLayers, trainRanker, type RankerEvaluation, type TrainedRanker, type TrainOptions } from './train';

const USAGE = `Usage: npx nexttap train [options]   (or: npm run train -- [options])

Options:
  --data DIR          folder with movies.csv and ratings.csv (default data/movielens)
  --out DIR           folder that receives model.onnx and manifest.json (default models/movielens-mlp/1)
  --version V         manifest version, which must equal the folder name under models/movielens-mlp/ (default 1)
  --seed N            seed of negative sampling, weight initialisation and shuffling (default 42)
  --max-anchors N     anchor events kept at most, spread evenly over the history (default ${DEFAULT_MAX_ANCHORS})
  --export-csv FILE   write the labelled feature rows (train and validation) as CSV to FILE, their
                      feature names, schema version and cutoff to FILE.json, and stop without
                      training; the notebook path trains on these files
  --all-targets       train on every anchor, also those whose liked item candidate generation missed
                      (default: only anchors whose liked item was among the candidates)
  --help              print this text
`;

const MODEL_NAME = 'movielens-mlp';
const INPUT_NAME = 'features';
const OUTPUT_NAME = 'score';
/** Largest difference allowed between an onnxruntime score and the tfjs score of the same row. */
const EXPORT_TOLERANCE = 1e-4;
const CHECK_ROWS = 100;

const TRAIN_OPTIONS = { epochs: 6, batchSize: 256, learningRate: 0.003, hiddenUnits: [32, 16] } as const;

interface CliOptions {
  dataDir: string;
  outDir: string;
  seed: number;
  maxAnchors: number;
  retrievedTargetsOnly: boolean;
  exportCsv: string | undefined;
  version: string;
}

/** A command-line mistake: printed without a stack trace, with exit code 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function parseCli(argv: string[]): CliOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        data: { type: 'string', default: 'data/movielens' },
        out: { type: 'string', default: 'models/movielens-mlp/1' },
        seed: { type: 'string', default: '42' },
        'max-anchors': { type: 'string', default: String(DEFAULT_MAX_ANCHORS) },
        'all-targets': { type: 'boolean', default: false },
        'export-csv': { type: 'string' },
        version: { type: 'string', default: '1' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  return {
    dataDir: resolve(values.data),
    outDir: resolve(values.out),
    seed: parseInteger('--seed', values.seed, 0),
    maxAnchors: parseInteger('--max-anchors', values['max-anchors'], 1),
    retrievedTargetsOnly: !values['all-targets'],
    exportCsv: values['export-csv'] === undefined ? undefined : resolve(values['export-csv']),
    version: values.version,
  };
}

function parseInteger(option: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < minimum) {
    throw new UsageError(`${option} ${JSON.stringify(text)} is invalid; pass an integer of at least ${minimum}`);
  }
  return value;
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  if (cli === undefined) {
    return;
  }
  const startedMs = Date.now();
  log(`reading MovieLens from ${cli.dataDir}`);
  const catalog = await readMovieLensCatalog(cli.dataDir);
  const events = await readMovieLensEvents(cli.dataDir);
  log(`read ${catalog.length} catalog items and ${events.length} events`);

  const replayStartedMs = Date.now();
  const set = await buildTrainingSet({
    catalog,
    events,
    maxAnchors: cli.maxAnchors,
    seed: cli.seed,
    onProgress: (replayed, total) => log(`replayed ${replayed}/${total} events`),
  });
  const replayMs = Date.now() - replayStartedMs;
  const stats = set.stats;
  log(
    `built ${set.train.rows} training and ${set.validation.rows} validation rows from ${stats.trainAnchors} + ${stats.validationAnchors} anchors ` +
      `(cutoff ${new Date(set.cutoffMs).toISOString()}, ${stats.skippedAnchors} anchors skipped) in ${seconds(replayMs)}`,
  );

  if (cli.exportCsv !== undefined) {
    await mkdir(dirname(cli.exportCsv), { recursive: true });
    await writeFile(cli.exportCsv, formatTrainingCsv(set));
    // The manifest of a model trained on the file needs these, and a CSV has no place for them.
    const description = {
      dataset: 'MovieLens latest-small (data/movielens), ratings replayed as interactions',
      featureSchemaVersion: FEATURE_SCHEMA_VERSION,
      features: set.featureNames,
      cutoffMs: set.cutoffMs,
      negativesPerPositive: set.negativesPerPositive,
      seed: cli.seed,
    };
    await writeFile(`${cli.exportCsv}.json`, `${JSON.stringify(description, null, 2)}\n`);
    log(`wrote ${set.train.rows + set.validation.rows} rows to ${cli.exportCsv} and their description to ${cli.exportCsv}.json`);
    return;
  }

  const trainOptions: TrainOptions = {
    ...TRAIN_OPTIONS,
    seed: cli.seed,
    retrievedTargetsOnly: cli.retrievedTargetsOnly,
    onEpoch: (epoch) => log(`epoch ${epoch.epoch}: train loss ${epoch.trainLoss.toFixed(4)}, validation log loss ${epoch.validationLogLoss.toFixed(4)}`),
  };
  const fitStartedMs = Date.now();
  const ranker = await trainRanker(set, trainOptions);
  const fitMs = Date.now() - fitStartedMs;
  log(`trained on ${ranker.train.rows} rows in ${seconds(fitMs)}`);

  const evaluation = evaluateRanker(set, ranker);
  logEvaluation(evaluation);

  await mkdir(cli.outDir, { recursive: true });
  const manifest = buildManifest(set, ranker, evaluation, { seed: cli.seed, retrievedTargetsOnly: cli.retrievedTargetsOnly, replayMs, fitMs, version: cli.version });
  await writeFile(join(cli.outDir, 'model.onnx'), exportOnnx(ranker, manifest));
  await writeFile(join(cli.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`wrote model.onnx and manifest.json to ${cli.outDir}`);

  await checkExport(cli.outDir, ranker);
  log(`done in ${seconds(Date.now() - startedMs)}`);
}

function exportOnnx(ranker: TrainedRanker, manifest: ModelManifest): Uint8Array {
  return exportMlpToOnnx({
    layers: exportFoldedLayers(ranker),
    inputName: INPUT_NAME,
    outputName: OUTPUT_NAME,
    producerName: 'nexttap-train',
    docString: `${manifest.name}/${manifest.version}: ${manifest.training.description}`,
    metadata: { featureSchemaVersion: String(manifest.featureSchemaVersion), features: manifest.features.join(',') },
  });
}

function buildManifest(
  set: TrainingSet,
  ranker: TrainedRanker,
  evaluation: RankerEvaluation,
  run: { seed: number; retrievedTargetsOnly: boolean; replayMs: number; fitMs: number; version: string },
): ModelManifest {
  const layerSizes = [set.featureNames.length, ...TRAIN_OPTIONS.hiddenUnits, 1].join('-');
  const trainedAnchors = run.retrievedTargetsOnly ? 'anchors before the cutoff whose liked item was among the candidates' : 'all anchors before the cutoff';
  return manifestSchema.parse({
    name: MODEL_NAME,
    version: run.version,
    featureSchemaVersion: FEATURE_SCHEMA_VERSION,
    features: set.featureNames,
    input: { name: INPUT_NAME },
    output: { name: OUTPUT_NAME },
    createdAt: new Date().toISOString(),
    training: {
      dataset: 'MovieLens latest-small (data/movielens), ratings replayed as interactions',
      description:
        `MLP ${layerSizes} (ReLU, sigmoid output), binary cross-entropy, Adam; input standardisation folded into the first layer. ` +
        'Each like in a session with an earlier event is an anchor: the liked item is the positive row and ' +
        `${set.negativesPerPositive} candidates sampled from the ranker's candidate list are the negatives. ` +
        `Trained on ${trainedAnchors}.`,
      cutoffMs: set.cutoffMs,
      examples: ranker.train.rows,
      validationExamples: ranker.validation.rows,
      negativesPerPositive: set.negativesPerPositive,
      poolRefreshEvents: DEFAULT_POOL_REFRESH_EVENTS,
      anchors: set.stats,
      constantFeatures: set.featureNames.filter((_, column) => ranker.standardization.constantColumns[column]),
      seed: run.seed,
      ...TRAIN_OPTIONS,
      retrievedTargetsOnly: run.retrievedTargetsOnly,
      replayMs: run.replayMs,
      fitMs: run.fitMs,
    },
    metrics: roundMetrics(evaluation),
  });
}

function roundMetrics(evaluation: RankerEvaluation): Record<string, number> {
  return Object.fromEntries(Object.entries(evaluation).map(([name, value]) => [name, Number(value.toFixed(6))]));
}

/** Loads the written files as the ranker does and compares its scores with the tfjs model's. */
async function checkExport(outDir: string, ranker: TrainedRanker): Promise<void> {
  const model = await loadRankingModel(outDir);
  try {
    const rows = Math.min(CHECK_ROWS, ranker.validation.rows);
    const columns = model.features.length;
    const features = ranker.validation.features.slice(0, rows * columns);
    const onnxScores = await model.score({ data: features, rows, columns, featureNames: model.manifest.features });
    const tfjsScores = ranker.predict(features, rows);
    let maxDifference = 0;
    for (let row = 0; row < rows; row++) {
      maxDifference = Math.max(maxDifference, Math.abs((onnxScores[row] as number) - (tfjsScores[row] as number)));
    }
    if (!(maxDifference <= EXPORT_TOLERANCE)) {
      throw new Error(`the ONNX model's scores differ from the tfjs model's by up to ${maxDifference} on ${rows} validation rows; the limit is ${EXPORT_TOLERANCE}`);
    }
    log(`checked the ONNX model with onnxruntime: ${rows} validation rows match tfjs within ${maxDifference.toExponential(2)}`);
  } finally {
    await model.release();
  }
}

function logEvaluation(evaluation: RankerEvaluation): void {
  const format = (value: number) => value.toFixed(4);
  log(`validation AUC ${format(evaluation.validationAuc)} (popularity ${format(evaluation.baselinePopularAuc)}), log loss ${format(evaluation.validationLogLoss)}`);
  log(
    `all ${evaluation.validationLists} lists: HitRate@10 ${format(evaluation.hitRateAt10)} (popularity ${format(evaluation.baselinePopularHitRateAt10)}), ` +
      `NDCG@10 ${format(evaluation.ndcgAt10)} (${format(evaluation.baselinePopularNdcgAt10)}), MRR ${format(evaluation.mrr)} (${format(evaluation.baselinePopularMrr)})`,
  );
  log(
    `lists with the liked item among the candidates (${format(evaluation.targetRetrievedRate)} of them): ` +
      `HitRate@10 ${format(evaluation.retrievedHitRateAt10)} (popularity ${format(evaluation.baselinePopularRetrievedHitRateAt10)}), ` +
      `NDCG@10 ${format(evaluation.retrievedNdcgAt10)} (${format(evaluation.baselinePopularRetrievedNdcgAt10)}), ` +
      `MRR ${format(evaluation.retrievedMrr)} (${format(evaluation.baselinePopularRetrievedMrr)})`,
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    log(`${error.message}\nRun with --help to list the options.`);
    process.exitCode = 2;
    return;
  }
  log(`training failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
