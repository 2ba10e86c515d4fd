import { fileURLToPath } from 'node:url';
import type { CatalogItem, Interaction } from '@nexttap/events';
import {
  buildFeatureMatrix,
  directDecayedSum,
  FEATURE_REGISTRY,
  FEATURE_SETTINGS,
  applyCatalogItems,
  applyInteractions,
  readItemSnapshots,
  readSessionSnapshot,
  POSITIVE_TYPES,
} from '@nexttap/features';
import type { DenseLayerSpec } from '@nexttap/model';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { MemoryFeatureStore } from '@nexttap/store';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTrainingSet, eventTimeQuantile, type Anchor, type ExampleRows, type TrainingSet } from './build-training-set';
import { CSV_LEADING_COLUMNS, formatTrainingCsv } from './export-csv';
import { areaUnderRoc, foldStandardization, standardize, targetRankMetrics, type Standardization } from './train';

const DATA_DIR = fileURLToPath(new URL('../../data/movielens', import.meta.url));
const EVENT_LIMIT = 3_000;
const MAX_ANCHORS = 200;
const NEGATIVES = 4;
const SEED = 7;
const COLUMNS = FEATURE_REGISTRY.length;

let catalog: CatalogItem[];
let events: Interaction[];
let set: TrainingSet;

beforeAll(async () => {
  catalog = await readMovieLensCatalog(DATA_DIR);
  events = await readMovieLensEvents(DATA_DIR, { limit: EVENT_LIMIT });
  set = await buildTrainingSet({ catalog, events, maxAnchors: MAX_ANCHORS, negativesPerPositive: NEGATIVES, seed: SEED });
}, 30_000);

function rowsOf(anchor: Anchor): ExampleRows {
  return anchor.split === 'train' ? set.train : set.validation;
}

/** Returns the split's row numbers of one anchor, in order. */
function rowNumbers(anchorIndex: number): number[] {
  const rows = rowsOf(set.anchors[anchorIndex] as Anchor);
  const numbers: number[] = [];
  rows.anchorIndices.forEach((index, row) => {
    if (index === anchorIndex) {
      numbers.push(row);
    }
  });
  return numbers;
}

function featureRow(rows: ExampleRows, row: number): number[] {
  return Array.from(rows.features.subarray(row * COLUMNS, (row + 1) * COLUMNS));
}

/** Replays the catalog and the first `count` events into a fresh store whose clock ends at `readAtMs`. */
async function replayPrefix(count: number, readAtMs: number): Promise<MemoryFeatureStore> {
  let clockMs = events[0]?.ts ?? 0;
  const store = new MemoryFeatureStore({ now: () => clockMs, sweepIntervalMs: 0 });
  await applyCatalogItems(store, catalog);
  for (const event of events.slice(0, count)) {
    clockMs = event.ts;
    await applyInteractions(store, [event]);
  }
  clockMs = readAtMs;
  return store;
}

/**
 * Returns the positive events on the anchor's item before the anchor that still count: item
 * counters expire `itemStatsTtlMs` after the item's latest event of any type, which drops every
 * earlier event.
 */
function livePositiveEvents(anchor: Anchor): Array<{ weight: number; tMs: number }> {
  const ttlMs = FEATURE_SETTINGS.itemStatsTtlMs;
  let live: Array<{ weight: number; tMs: number }> = [];
  let latestMs: number | undefined;
  for (const event of events.slice(0, anchor.eventIndex)) {
    if (event.itemId !== anchor.itemId) {
      continue;
    }
    if (latestMs !== undefined && event.ts - latestMs >= ttlMs) {
      live = [];
    }
    if (POSITIVE_TYPES.has(event.type)) {
      live.push({ weight: 1, tMs: event.ts });
    }
    latestMs = event.ts;
  }
  return latestMs !== undefined && anchor.tsMs - latestMs >= ttlMs ? [] : live;
}

describe('buildTrainingSet', () => {
  it('writes one positive and K negative rows per anchor', () => {
    expect(set.anchors.length).toBe(set.stats.sampledAnchors - set.stats.skippedAnchors);
    expect(set.anchors.length).toBeGreaterThan(0);
    expect(set.anchors.length).toBeLessThanOrEqual(MAX_ANCHORS);
    expect(set.train.rows).toBe(set.stats.trainAnchors * (1 + NEGATIVES));
    expect(set.validation.rows).toBe(set.stats.validationAnchors * (1 + NEGATIVES));
    expect(set.train.rows + set.validation.rows).toBe(set.anchors.length * (1 + NEGATIVES));
    expect(set.train.features.length).toBe(set.train.rows * COLUMNS);
    expect(set.validation.features.length).toBe(set.validation.rows * COLUMNS);
    expect(set.featureNames).toEqual(FEATURE_REGISTRY.map((feature) => feature.name));
  });

  it('labels the liked item 1 and sampled candidates 0', () => {
    set.anchors.forEach((anchor, anchorIndex) => {
      const rows = rowsOf(anchor);
      const [positive, ...negatives] = rowNumbers(anchorIndex);
      expect(rows.labels[positive as number]).toBe(1);
      expect(rows.itemIds[positive as number]).toBe(anchor.itemId);
      expect(negatives).toHaveLength(NEGATIVES);
      const negativeIds = negatives.map((row) => rows.itemIds[row]);
      expect(negatives.map((row) => rows.labels[row])).toEqual(Array(NEGATIVES).fill(0));
      expect(negativeIds).not.toContain(anchor.itemId);
      expect(new Set(negativeIds).size).toBe(NEGATIVES);
    });
  });

  it('never samples an item the user engaged with before the anchor', () => {
    set.anchors.forEach((anchor, anchorIndex) => {
      const engaged = new Set(
        events.slice(0, anchor.eventIndex).filter((event) => event.userId === anchor.userId && event.type !== 'impression').map((event) => event.itemId),
      );
      const rows = rowsOf(anchor);
      for (const row of rowNumbers(anchorIndex).slice(1)) {
        expect(engaged.has(rows.itemIds[row] as string)).toBe(false);
      }
    });
  });

  it('anchors only likes of sessions with an earlier event', () => {
    for (const anchor of set.anchors) {
      const event = events[anchor.eventIndex] as Interaction;
      expect(event.type).toBe('like');
      expect(event.itemId).toBe(anchor.itemId);
      expect(events.slice(0, anchor.eventIndex).some((earlier) => earlier.sessionId === anchor.sessionId)).toBe(true);
    }
  });

  it('keeps every feature finite', () => {
    for (const rows of [set.train, set.validation, ...set.candidateLists.map((list) => ({ features: list.features }))]) {
      const bad = rows.features.findIndex((value) => !Number.isFinite(value));
      expect(bad).toBe(-1);
    }
  });

  it('splits anchors at the 90th percentile of event time', () => {
    expect(set.cutoffMs).toBe(eventTimeQuantile(events, 0.9));
    expect(set.stats.trainAnchors).toBeGreaterThan(0);
    expect(set.stats.validationAnchors).toBeGreaterThan(0);
    for (const anchor of set.anchors) {
      expect(anchor.split).toBe(anchor.tsMs < set.cutoffMs ? 'train' : 'validation');
    }
  });

  it('builds rows from events before the anchor only', async () => {
    const trainAnchors = set.anchors.filter((anchor) => anchor.split === 'train');
    const checked = [trainAnchors[0], trainAnchors[Math.floor(trainAnchors.length / 2)], set.anchors.at(-1)] as Anchor[];
    for (const anchor of checked) {
      const anchorIndex = set.anchors.indexOf(anchor);
      const rows = rowsOf(anchor);
      const numbers = rowNumbers(anchorIndex);
      const store = await replayPrefix(anchor.eventIndex, anchor.tsMs);
      const { session, user } = await readSessionSnapshot(store, anchor.sessionId, anchor.userId, anchor.tsMs);
      const items = await readItemSnapshots(store, numbers.map((row) => rows.itemIds[row] as string), anchor.tsMs, session);
      const expected = buildFeatureMatrix(FEATURE_REGISTRY, session, user, items, anchor.tsMs);
      numbers.forEach((row, position) => {
        expect(featureRow(rows, row)).toEqual(Array.from(expected.data.subarray(position * COLUMNS, (position + 1) * COLUMNS)));
      });
    }
  });

  it('leaves the anchor event out of the liked item popularity', () => {
    const popularityColumn = set.featureNames.indexOf('item_popularity_week');
    const halfLifeMs = FEATURE_SETTINGS.itemWeekHalfLifeMs;
    for (const anchor of set.anchors.slice(0, 40)) {
      const rows = rowsOf(anchor);
      const positiveRow = rowNumbers(set.anchors.indexOf(anchor))[0] as number;
      const earlier = livePositiveEvents(anchor);
      const before = Math.log1p(directDecayedSum(earlier, anchor.tsMs, halfLifeMs));
      const withAnchor = Math.log1p(directDecayedSum([...earlier, { weight: 1, tMs: anchor.tsMs }], anchor.tsMs, halfLifeMs));
      const value = rows.features[positiveRow * COLUMNS + popularityColumn] as number;
      expect(Math.abs(value - before)).toBeLessThan(1e-5);
      expect(withAnchor - value).toBeGreaterThan(0.1);
    }
  });

  it('records the full candidate list of each validation anchor', () => {
    const validationAnchors = set.anchors.filter((anchor) => anchor.split === 'validation');
    expect(set.candidateLists).toHaveLength(validationAnchors.length);
    let amongCandidates = 0;
    for (const list of set.candidateLists) {
      const anchor = set.anchors[list.anchorIndex] as Anchor;
      expect(anchor.split).toBe('validation');
      expect(list.itemIds[list.targetRow]).toBe(anchor.itemId);
      expect(new Set(list.itemIds).size).toBe(list.itemIds.length);
      expect(list.features.length).toBe(list.itemIds.length * COLUMNS);
      expect(list.targetAmongCandidates).toBe(anchor.targetAmongCandidates);
      if (!list.targetAmongCandidates) {
        expect(list.targetRow).toBe(list.itemIds.length - 1);
      }
      amongCandidates += list.targetAmongCandidates ? 1 : 0;
    }
    expect(set.stats.validationTargetsAmongCandidates).toBe(amongCandidates);
  });

  it('returns the same rows for the same seed', async () => {
    const again = await buildTrainingSet({ catalog, events, maxAnchors: MAX_ANCHORS, negativesPerPositive: NEGATIVES, seed: SEED });
    expect(again.train.itemIds).toEqual(set.train.itemIds);
    expect(again.train.features).toEqual(set.train.features);
    expect(again.validation.itemIds).toEqual(set.validation.itemIds);
  });

  it('rejects events out of time order', async () => {
    const shuffled = [events[1], events[0], ...events.slice(2, 10)] as Interaction[];
    const first = shuffled[0] as Interaction;
    const second = shuffled[1] as Interaction;
    if (first.ts === second.ts) {
      shuffled[1] = { ...second, ts: first.ts - 1 };
    }
    await expect(buildTrainingSet({ catalog, events: shuffled })).rejects.toThrow(/not sorted by time/);
  });
});

describe('formatTrainingCsv', () => {
  it('writes one line per row with the features in manifest order', () => {
    const lines = formatTrainingCsv(set).trimEnd().split('\n');
    expect(lines[0]).toBe([...CSV_LEADING_COLUMNS, ...set.featureNames].join(','));
    expect(lines.length).toBe(1 + set.train.rows + set.validation.rows);
    const first = (lines[1] as string).split(',');
    expect(first[0]).toBe('train');
    expect(Number(first[5])).toBe(set.train.labels[0]);
    expect(first.slice(CSV_LEADING_COLUMNS.length).map(Number)).toEqual(Array.from(set.train.features.subarray(0, COLUMNS)));
    expect((lines.at(-1) as string).startsWith('validation,')).toBe(true);
  });
});

describe('targetRankMetrics', () => {
  it('scores a target ranked third', () => {
    const metrics = targetRankMetrics([0.9, 0.8, 0.7, 0.1], 2, 10);
    expect(metrics.hitRate).toBe(1);
    expect(metrics.ndcg).toBeCloseTo(1 / Math.log2(4), 12);
    expect(metrics.reciprocalRank).toBeCloseTo(1 / 3, 12);
  });

  it('misses a target ranked below the cutoff', () => {
    const scores = Array.from({ length: 12 }, (_, row) => 12 - row);
    const metrics = targetRankMetrics(scores, 11, 10);
    expect(metrics.hitRate).toBe(0);
    expect(metrics.ndcg).toBe(0);
    expect(metrics.reciprocalRank).toBeCloseTo(1 / 12, 12);
  });

  it('averages over the positions of tied scores', () => {
    const metrics = targetRankMetrics([0.5, 0.5, 0.5], 1, 2);
    expect(metrics.hitRate).toBeCloseTo(2 / 3, 12);
    expect(metrics.ndcg).toBeCloseTo((1 + 1 / Math.log2(3)) / 3, 12);
    expect(metrics.reciprocalRank).toBeCloseTo((1 + 1 / 2 + 1 / 3) / 3, 12);
  });
});

describe('areaUnderRoc', () => {
  it('returns 1 for a perfect order and 0 for a reversed one', () => {
    expect(areaUnderRoc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(areaUnderRoc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
  });

  it('counts tied scores as half', () => {
    expect(areaUnderRoc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    expect(areaUnderRoc([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1])).toBe(0.875);
  });
});

describe('foldStandardization', () => {
  const standardization: Standardization = {
    mean: Float64Array.from([2, -1, 0.1]),
    std: Float64Array.from([4, 0.5, 1]),
    constantColumns: [false, false, true],
  };
  const layer: DenseLayerSpec = {
    weights: Float32Array.from([0.3, -0.2, 0.5, 0.7, -1.1, 0.4]),
    bias: Float32Array.from([0.05, -0.3]),
    inputSize: 3,
    outputSize: 2,
    activation: 'linear',
  };
  const applyLayer = (spec: DenseLayerSpec, input: Float32Array) =>
    Array.from({ length: spec.outputSize }, (_, output) => {
      let sum = spec.bias[output] as number;
      for (let row = 0; row < spec.inputSize; row++) {
        sum += (input[row] as number) * (spec.weights[row * spec.outputSize + output] as number);
      }
      return sum;
    });

  it('gives raw inputs the output of standardised inputs', () => {
    const [folded] = foldStandardization([layer], standardization);
    for (const raw of [Float32Array.from([2, -1, 0.1]), Float32Array.from([10, 3, 7]), Float32Array.from([-5, 0.25, -2])]) {
      const expected = applyLayer(layer, standardize(raw, standardization));
      const actual = applyLayer(folded as DenseLayerSpec, raw);
      actual.forEach((value, output) => expect(value).toBeCloseTo(expected[output] as number, 5));
    }
  });

  it('zeroes the weights of constant columns', () => {
    const [folded] = foldStandardization([layer], standardization);
    expect(Array.from((folded as DenseLayerSpec).weights.subarray(4, 6))).toEqual([0, 0]);
  });
});
