/**
 * Trains the ranking MLP on a `TrainingSet` with TensorFlow.js and measures it on the held-out
 * anchors, next to a popularity baseline.
 */
import * as tf from '@tensorflow/tfjs';
import { extractDenseLayers, type DenseLayerSpec } from '@nexttap/model';
import { createRandom, type CandidateList, type ExampleRows, type TrainingSet } from './build-training-set';

export interface TrainOptions {
  /** Seed of the weight initialisers and the per-epoch shuffle. Default 1. */
  seed?: number;
  /** Default 6. */
  epochs?: number;
  /** Default 256. */
  batchSize?: number;
  /** Adam learning rate. Default 0.003. */
  learningRate?: number;
  /** Units of the hidden ReLU layers. Default [32, 16]. */
  hiddenUnits?: readonly number[];
  /**
   * Train only on anchors whose liked item was among the generated candidates. Default true,
   * because a liked item that candidate generation missed tends to be older and less popular than
   * every candidate. A model trained on all anchors learns to spot such items, which the ranker
   * never scores, and then ranks real candidates worse than popularity does.
   */
  retrievedTargetsOnly?: boolean;
  /** Called after each epoch. */
  onEpoch?: (log: EpochLog) => void;
}

export interface EpochLog {
  epoch: number;
  trainLoss: number;
  validationLogLoss: number;
}

/** Per-column mean and standard deviation of the training rows. */
export interface Standardization {
  mean: Float64Array;
  std: Float64Array;
  /** Columns with no spread in training, which the model reads as 0 whatever their value. */
  constantColumns: boolean[];
}

export interface TrainedRanker {
  model: tf.Sequential;
  /** The rows the model was trained on and the validation rows of the same kind of anchor. */
  train: ExampleRows;
  validation: ExampleRows;
  standardization: Standardization;
  epochs: EpochLog[];
  /** Scores raw feature rows with the trained network. */
  predict: RowScorer;
}

/** Scores `rows` row-major rows of raw features, one score per row, higher is better. */
export type RowScorer = (features: Float32Array, rows: number) => Float32Array;

/** Ranking quality of the liked item among the candidate lists of the validation anchors. */
export interface ListMetrics {
  lists: number;
  hitRateAt10: number;
  ndcgAt10: number;
  mrr: number;
}

/** Spread below which a feature counts as constant in the training rows. */
const CONSTANT_STD = 1e-6;
/** Rows per `predict` call, to bound the size of one tensor. */
const PREDICT_CHUNK_ROWS = 65_536;
/** Probabilities are clipped to [ε, 1 − ε] in the log loss so that one confident miss stays finite. */
const LOG_LOSS_EPSILON = 1e-7;

/**
 * Trains the MLP on the training rows of the selected anchors (see `retrievedTargetsOnly`) and
 * reports the validation log loss of the same kind of anchor after every epoch.
 */
export async function trainRanker(set: TrainingSet, options: TrainOptions = {}): Promise<TrainedRanker> {
  const seed = options.seed ?? 1;
  const epochs = options.epochs ?? 6;
  const batchSize = options.batchSize ?? 256;
  const columns = set.featureNames.length;
  await tf.setBackend('cpu');

  const retrievedOnly = options.retrievedTargetsOnly ?? true;
  const isSelected = (anchorIndex: number) => !retrievedOnly || (set.anchors[anchorIndex]?.targetAmongCandidates ?? false);
  const train = selectAnchorRows(set.train, columns, isSelected);
  const validation = selectAnchorRows(set.validation, columns, isSelected);
  if (train.rows === 0) {
    throw new Error('no training rows: every training anchor was dropped; use more events or a later cutoff');
  }

  const standardization = computeStandardization(train.features, train.rows, columns);
  const inputs = standardize(train.features, standardization);
  const model = createMlp(columns, options.hiddenUnits ?? [32, 16], seed);
  model.compile({ optimizer: tf.train.adam(options.learningRate ?? 0.003), loss: 'binaryCrossentropy' });
  const predict: RowScorer = (features, rows) => predictStandardized(model, standardize(features, standardization), rows, columns);

  const random = createRandom(seed);
  const logs: EpochLog[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = shuffledIndices(train.rows, random);
    const { x, y } = gatherRows(inputs, train.labels, order, columns);
    const history = await model.fit(x, y, { epochs: 1, batchSize, shuffle: false, verbose: 0 });
    tf.dispose([x, y]);
    const trainLoss = Number(history.history.loss?.[0] ?? Number.NaN);
    const validationLogLoss = logLoss(predict(validation.features, validation.rows), validation.labels);
    const log = { epoch, trainLoss, validationLogLoss };
    logs.push(log);
    options.onEpoch?.(log);
  }
  return { model, train, validation, standardization, epochs: logs, predict };
}

/** Returns the rows whose anchor passes `isSelected`, in their original order. */
export function selectAnchorRows(rows: ExampleRows, columns: number, isSelected: (anchorIndex: number) => boolean): ExampleRows {
  const kept: number[] = [];
  rows.anchorIndices.forEach((anchorIndex, row) => {
    if (isSelected(anchorIndex)) {
      kept.push(row);
    }
  });
  const features = new Float32Array(kept.length * columns);
  kept.forEach((row, position) => features.set(rows.features.subarray(row * columns, (row + 1) * columns), position * columns));
  return {
    features,
    labels: Float32Array.from(kept, (row) => rows.labels[row] as number),
    rows: kept.length,
    itemIds: kept.map((row) => rows.itemIds[row] as string),
    anchorIndices: Int32Array.from(kept, (row) => rows.anchorIndices[row] as number),
  };
}

function createMlp(columns: number, hiddenUnits: readonly number[], seed: number): tf.Sequential {
  const model = tf.sequential({ name: 'ranker_mlp' });
  // Each layer gets its own seed: one seed for all would start every kernel from the same pattern.
  hiddenUnits.forEach((units, index) => {
    model.add(
      tf.layers.dense({
        ...(index === 0 ? { inputShape: [columns] } : {}),
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + index }),
      }),
    );
  });
  model.add(
    tf.layers.dense({
      ...(hiddenUnits.length === 0 ? { inputShape: [columns] } : {}),
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + hiddenUnits.length }),
    }),
  );
  return model;
}

function shuffledIndices(count: number, random: () => number): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, index) => index);
  for (let index = count - 1; index > 0; index--) {
    const pick = Math.floor(random() * (index + 1));
    [order[index], order[pick]] = [order[pick] as number, order[index] as number];
  }
  return order;
}

function gatherRows(inputs: Float32Array, labels: Float32Array, order: Uint32Array, columns: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = new Float32Array(order.length * columns);
  const y = new Float32Array(order.length);
  order.forEach((row, position) => {
    x.set(inputs.subarray(row * columns, (row + 1) * columns), position * columns);
    y[position] = labels[row] as number;
  });
  return { x: tf.tensor2d(x, [order.length, columns]), y: tf.tensor2d(y, [order.length, 1]) };
}

function predictStandardized(model: tf.Sequential, inputs: Float32Array, rows: number, columns: number): Float32Array {
  const scores = new Float32Array(rows);
  for (let start = 0; start < rows; start += PREDICT_CHUNK_ROWS) {
    const end = Math.min(rows, start + PREDICT_CHUNK_ROWS);
    tf.tidy(() => {
      const batch = tf.tensor2d(inputs.subarray(start * columns, end * columns), [end - start, columns]);
      scores.set((model.predict(batch) as tf.Tensor).dataSync(), start);
    });
  }
  return scores;
}

/** Computes the per-column mean and population standard deviation of row-major rows, in float64. */
export function computeStandardization(features: Float32Array, rows: number, columns: number): Standardization {
  const mean = new Float64Array(columns);
  const std = new Float64Array(columns);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      mean[column] = (mean[column] as number) + (features[row * columns + column] as number) / rows;
    }
  }
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const deviation = (features[row * columns + column] as number) - (mean[column] as number);
      std[column] = (std[column] as number) + (deviation * deviation) / rows;
    }
  }
  const constantColumns: boolean[] = [];
  for (let column = 0; column < columns; column++) {
    std[column] = Math.sqrt(std[column] as number);
    constantColumns.push((std[column] as number) < CONSTANT_STD);
  }
  return { mean, std, constantColumns };
}

/** Returns `(x − mean) / std` per column, and 0 in the constant columns. */
export function standardize(features: Float32Array, standardization: Standardization): Float32Array {
  const { mean, std, constantColumns } = standardization;
  const columns = mean.length;
  const result = new Float32Array(features.length);
  for (let index = 0; index < features.length; index++) {
    const column = index % columns;
    result[index] = constantColumns[column] ? 0 : ((features[index] as number) - (mean[column] as number)) / (std[column] as number);
  }
  return result;
}

/**
 * Returns the trained dense layers with the standardisation folded into the first one, so the
 * exported network takes raw features: with z = (x − m) / s, the first layer's W·z + b equals
 * (W / s)·x + (b − Σ W·m / s). Constant columns get zero weights, as `standardize` maps them to 0.
 */
export function exportFoldedLayers(ranker: TrainedRanker): DenseLayerSpec[] {
  return foldStandardization(extractDenseLayers(ranker.model), ranker.standardization);
}

/** Folds `standardization` into the first of `layers`, as `exportFoldedLayers` describes. */
export function foldStandardization(layers: readonly DenseLayerSpec[], standardization: Standardization): DenseLayerSpec[] {
  const [first, ...rest] = layers;
  if (first === undefined) {
    throw new Error('cannot fold the standardisation into an empty network; pass at least one dense layer');
  }
  const { mean, std, constantColumns } = standardization;
  if (first.inputSize !== mean.length) {
    throw new Error(`the first layer reads ${first.inputSize} features but the standardisation has ${mean.length} columns`);
  }
  const weights = new Float32Array(first.weights.length);
  const bias = Float64Array.from(first.bias);
  for (let input = 0; input < first.inputSize; input++) {
    if (constantColumns[input]) {
      continue;
    }
    for (let output = 0; output < first.outputSize; output++) {
      const scaled = (first.weights[input * first.outputSize + output] as number) / (std[input] as number);
      weights[input * first.outputSize + output] = scaled;
      bias[output] = (bias[output] as number) - scaled * (mean[input] as number);
    }
  }
  return [{ ...first, weights, bias: Float32Array.from(bias) }, ...rest];
}

/** Scores rows by `item_popularity_week`, the ranker's fallback signal, as the baseline to beat. */
export function popularityScorer(featureNames: readonly string[]): RowScorer {
  const column = featureNames.indexOf('item_popularity_week');
  if (column < 0) {
    throw new Error('the feature item_popularity_week is missing; the popularity baseline needs it');
  }
  return (features, rows) => Float32Array.from({ length: rows }, (_, row) => features[row * featureNames.length + column] as number);
}

/** Validation metrics of the model and of the popularity baseline, as written to the manifest. */
export interface RankerEvaluation {
  /** ROC AUC and log loss of the validation rows of the anchors the model was trained on. */
  validationAuc: number;
  validationLogLoss: number;
  /** Over every validation list, the liked item appended where candidate generation missed it. */
  hitRateAt10: number;
  ndcgAt10: number;
  mrr: number;
  /** Over the validation lists whose candidates contained the liked item: the ranker's own task. */
  retrievedHitRateAt10: number;
  retrievedNdcgAt10: number;
  retrievedMrr: number;
  /** Share of validation anchors whose liked item was among the candidates. */
  targetRetrievedRate: number;
  validationLists: number;
  baselinePopularAuc: number;
  baselinePopularHitRateAt10: number;
  baselinePopularNdcgAt10: number;
  baselinePopularMrr: number;
  baselinePopularRetrievedHitRateAt10: number;
  baselinePopularRetrievedNdcgAt10: number;
  baselinePopularRetrievedMrr: number;
}

/** Measures the trained model and the popularity baseline on the same validation anchors. */
export function evaluateRanker(set: TrainingSet, ranker: TrainedRanker): RankerEvaluation {
  const baseline = popularityScorer(set.featureNames);
  const validation = ranker.validation;
  const retrievedLists = set.candidateLists.filter((list) => list.targetAmongCandidates);
  const model = measureRanking(set.candidateLists, ranker.predict);
  const modelRetrieved = measureRanking(retrievedLists, ranker.predict);
  const popular = measureRanking(set.candidateLists, baseline);
  const popularRetrieved = measureRanking(retrievedLists, baseline);
  return {
    validationAuc: areaUnderRoc(ranker.predict(validation.features, validation.rows), validation.labels),
    validationLogLoss: logLoss(ranker.predict(validation.features, validation.rows), validation.labels),
    hitRateAt10: model.hitRateAt10,
    ndcgAt10: model.ndcgAt10,
    mrr: model.mrr,
    retrievedHitRateAt10: modelRetrieved.hitRateAt10,
    retrievedNdcgAt10: modelRetrieved.ndcgAt10,
    retrievedMrr: modelRetrieved.mrr,
    targetRetrievedRate: retrievedLists.length / Math.max(1, set.candidateLists.length),
    validationLists: set.candidateLists.length,
    baselinePopularAuc: areaUnderRoc(baseline(validation.features, validation.rows), validation.labels),
    baselinePopularHitRateAt10: popular.hitRateAt10,
    baselinePopularNdcgAt10: popular.ndcgAt10,
    baselinePopularMrr: popular.mrr,
    baselinePopularRetrievedHitRateAt10: popularRetrieved.hitRateAt10,
    baselinePopularRetrievedNdcgAt10: popularRetrieved.ndcgAt10,
    baselinePopularRetrievedMrr: popularRetrieved.mrr,
  };
}

/**
 * Measures the rank of the liked item among all candidates of each list, under `scorer`. A list
 * whose candidates missed the liked item has it appended, so these lists count too.
 */
export function measureRanking(lists: readonly CandidateList[], scorer: RowScorer, cutoff = 10): ListMetrics {
  const totals = { hitRate: 0, ndcg: 0, reciprocalRank: 0 };
  for (const list of lists) {
    const metrics = targetRankMetrics(scorer(list.features, list.itemIds.length), list.targetRow, cutoff);
    totals.hitRate += metrics.hitRate;
    totals.ndcg += metrics.ndcg;
    totals.reciprocalRank += metrics.reciprocalRank;
  }
  const count = Math.max(1, lists.length);
  return { lists: lists.length, hitRateAt10: totals.hitRate / count, ndcgAt10: totals.ndcg / count, mrr: totals.reciprocalRank / count };
}

/**
 * Returns the hit rate, NDCG at `cutoff` and reciprocal rank of one relevant row, as expected
 * under a random order of tied scores: the row's rank is uniform over the positions its ties span.
 * Without this, a scorer with many ties (popularity 0 for unseen items) would gain or lose by the
 * arbitrary order of the candidate list.
 */
export function targetRankMetrics(
  scores: ArrayLike<number>,
  targetRow: number,
  cutoff: number,
): { hitRate: number; ndcg: number; reciprocalRank: number } {
  const targetScore = scores[targetRow] as number;
  let higher = 0;
  let tied = 0;
  for (let row = 0; row < scores.length; row++) {
    if (row === targetRow) {
      continue;
    }
    const score = scores[row] as number;
    if (score > targetScore) {
      higher += 1;
    } else if (score === targetScore) {
      tied += 1;
    }
  }
  let hitRate = 0;
  let ndcg = 0;
  let reciprocalRank = 0;
  for (let rank = higher + 1; rank <= higher + tied + 1; rank++) {
    if (rank <= cutoff) {
      hitRate += 1;
      ndcg += 1 / Math.log2(rank + 1);
    }
    reciprocalRank += 1 / rank;
  }
  const positions = tied + 1;
  return { hitRate: hitRate / positions, ndcg: ndcg / positions, reciprocalRank: reciprocalRank / positions };
}

/** Computes the ROC AUC as the Mann–Whitney statistic, giving tied scores their average rank. */
export function areaUnderRoc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, index) => index).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1] as number] === scores[order[start] as number]) {
      end += 1;
    }
    // Ranks count from 1, so the tied block start..end shares the average rank (start + end) / 2 + 1.
    const averageRank = (start + end) / 2 + 1;
    for (let position = start; position <= end; position++) {
      if (labels[order[position] as number] === 1) {
        positives += 1;
        positiveRankSum += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) {
    return Number.NaN;
  }
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Computes the mean binary cross-entropy of probabilities against 0/1 labels, in nats. */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let total = 0;
  for (let index = 0; index < probabilities.length; index++) {
    const probability = Math.min(1 - LOG_LOSS_EPSILON, Math.max(LOG_LOSS_EPSILON, probabilities[index] as number));
    total -= labels[index] === 1 ? Math.log(probability) : Math.log(1 - probability);
  }
  return total / Math.max(1, probabilities.length);
}
