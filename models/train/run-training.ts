/**
 * Runs one training: replays MovieLens into a training set, then either exports its rows as CSV or
 * trains the MLP, writes `model.onnx` and `manifest.json` and checks the export with onnxruntime.
 * `main.ts` loads this module only after the options passed their checks, because loading
 * TensorFlow.js and onnxruntime took about a second on a 2-core machine.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FEATURE_SCHEMA_VERSION } from '@nexttap/features';
import { exportMlpToOnnx, loadRankingModel, manifestSchema, type ModelManifest } from '@nexttap/model';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { buildTrainingSet, DEFAULT_POOL_REFRESH_EVENTS, type TrainingSet } from './build-training-set';
import { formatTrainingCsv } from './export-csv';
import { evaluateRanker, exportFoldedLayers, trainRanker, type RankerEvaluation, type TrainedRanker, type TrainOptions } from './train';
import { MODEL_NAME, TrainRunError, TrainUsageError, type TrainCliOptions } from './train-options';

const INPUT_NAME = 'features';
const OUTPUT_NAME = 'score';
/** Largest difference allowed between an onnxruntime score and the tfjs score of the same row. */
const EXPORT_TOLERANCE = 1e-4;
const CHECK_ROWS = 100;

const TRAIN_OPTIONS = { epochs: 6, batchSize: 256, learningRate: 0.003, hiddenUnits: [32, 16] } as const;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs the training that `cli` describes, logging its progress on stderr. */
export async function runTraining(cli: TrainCliOptions): Promise<void> {
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
    await exportRows(set, cli.exportCsv, cli.seed);
    return;
  }
  if (cli.outDir === undefined) {
    throw new Error('runTraining needs outDir unless exportCsv is set');
  }
  checkTrainableAnchors(set, cli);

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

  // Built before the folder exists, so that a manifest that fails its schema leaves no empty folder.
  const manifest = buildManifest(set, ranker, evaluation, { seed: cli.seed, retrievedTargetsOnly: cli.retrievedTargetsOnly, replayMs, fitMs, version: cli.version });
  await mkdir(cli.outDir, { recursive: true });
  await writeFile(join(cli.outDir, 'model.onnx'), exportOnnx(ranker, manifest));
  await writeFile(join(cli.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`wrote model.onnx and manifest.json to ${cli.outDir}`);

  await checkExport(cli.outDir, ranker);
  log(`done in ${seconds(Date.now() - startedMs)}`);
}

async function exportRows(set: TrainingSet, file: string, seed: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, formatTrainingCsv(set));
  // The manifest of a model trained on the file needs these, and a CSV has no place for them.
  const description = {
    dataset: 'MovieLens latest-small (data/movielens), ratings replayed as interactions',
    featureSchemaVersion: FEATURE_SCHEMA_VERSION,
    features: set.featureNames,
    cutoffMs: set.cutoffMs,
    negativesPerPositive: set.negativesPerPositive,
    seed,
  };
  await writeFile(`${file}.json`, `${JSON.stringify(description, null, 2)}\n`);
  log(`wrote ${set.train.rows + set.validation.rows} rows to ${file} and their description to ${file}.json`);
}

/**
 * Rejects a training set without a training or a validation anchor of the kind that training
 * uses, before the fit and before the model folder is created. The fit needs a training anchor,
 * and the validation AUC and log loss are undefined without a validation anchor.
 *
 * @throws TrainUsageError naming --max-anchors when its sampling left too few anchors, and
 * TrainRunError naming --data when the data has too few
 */
function checkTrainableAnchors(set: TrainingSet, cli: TrainCliOptions): void {
  const counts = { train: 0, validation: 0 };
  for (const anchor of set.anchors) {
    if (!cli.retrievedTargetsOnly || anchor.targetAmongCandidates) {
      counts[anchor.split] += 1;
    }
  }
  if (counts.train > 0 && counts.validation > 0) {
    return;
  }
  const kind = cli.retrievedTargetsOnly ? ' whose liked item was among the candidates' : '';
  const found = `${counts.train} training and ${counts.validation} validation anchors${kind} (cutoff ${new Date(set.cutoffMs).toISOString()})`;
  const need = 'training needs at least one of each';
  if (set.stats.sampledAnchors < set.stats.eligibleAnchors) {
    throw new TrainUsageError(`--max-anchors ${cli.maxAnchors} leaves ${found}, and ${need}; pass a larger --max-anchors, such as --max-anchors 5000`);
  }
  const allTargets = cli.retrievedTargetsOnly ? ', or pass --all-targets' : '';
  throw new TrainRunError(`--data ${cli.dataDir} has ${found}, and ${need}; pass a folder with more ratings${allTargets}`);
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
      throw new TrainRunError(`the ONNX model in ${outDir} scores differently from the tfjs model, by up to ${maxDifference} on ${rows} validation rows; the limit is ${EXPORT_TOLERANCE}`);
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

