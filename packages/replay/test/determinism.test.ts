import { loadRankingModel, type RankingModel } from '@nexttap/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMovieLensInput, runReplay, type ReplayInput } from '../src/index';
import { MODEL_DIR, MOVIELENS_DIR, shuffled } from './fixtures';

/** Ratings replayed: the last of MovieLens, after the bundled model's training cut-off. */
const TAIL_EVENTS = 1_000;
/** Of those, the last ones are evaluated; the rest warm the features. */
const EVALUATED_EVENTS = 150;

let model: RankingModel;
let input: ReplayInput;
let cutoffMs: number;
let reference: string;

beforeAll(async () => {
  model = await loadRankingModel(MODEL_DIR);
  const full = await readMovieLensInput(MOVIELENS_DIR);
  const events = full.events.slice(-TAIL_EVENTS);
  cutoffMs = (events[events.length - EVALUATED_EVENTS] as { ts: number }).ts;
  input = { ...full, events };
  reference = await replayToJson(input, 7);
});

afterAll(async () => {
  await model?.release();
});

async function replayToJson(replayInput: ReplayInput, seed: number): Promise<string> {
  const { report } = await runReplay({ input: replayInput, models: [model], seed, cutoffMs, bootstrapResamples: 300 });
  return JSON.stringify(report, null, 2);
}

describe('replay determinism', () => {
  it('writes byte-identical reports for the same seed', async () => {
    expect(await replayToJson(input, 7)).toBe(reference);
    expect(JSON.parse(reference).counts.evaluationPoints).toBeGreaterThan(100);
  });

  it('gives identical results for shuffled input', async () => {
    const shuffledInput = { ...input, events: shuffled(input.events, 11), catalog: shuffled(input.catalog, 12) };
    expect(await replayToJson(shuffledInput, 7)).toBe(reference);
  });
});
