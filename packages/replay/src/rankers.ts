import type { ItemSnapshot, SessionSnapshot, UserSnapshot } from '@nexttap/features';
import type { RankingModel } from '@nexttap/model';
import { heuristicScore, scoreItems } from '@nexttap/rank';
import type { RankerDescription } from './point-log';

/** What a ranker sees at one evaluation point: the state the ranker service would read then. */
export interface ScoringInput {
  session: SessionSnapshot;
  user: UserSnapshot | undefined;
  items: readonly ItemSnapshot[];
  nowMs: number;
  /** Seeded per point and ranker, so a run is repeatable. */
  random: () => number;
}

/**
 * A ranker's scores of the candidates, in candidate order. A higher score ranks first. Items of
 * equal score are ordered by `tieBreak`, higher first, when it is set, and then by item id.
 */
export interface RankerScores {
  scores: ArrayLike<number>;
  tieBreak?: ArrayLike<number>;
}

/** Scores candidates. */
export interface Ranker {
  description: RankerDescription;
  score(input: ScoringInput): Promise<RankerScores>;
}

/** Names of the baselines, in the order a report lists them. */
export const BASELINE_NAMES = ['popular', 'trending', 'covisit', 'random', 'heuristic'] as const;
export type BaselineName = (typeof BASELINE_NAMES)[number];

/** The baselines a replay runs unless told otherwise. */
export const DEFAULT_BASELINES: readonly BaselineName[] = ['popular', 'trending', 'covisit', 'random'];

/** Wraps a loaded model: features and one ONNX run through `scoreItems`, as the ranker service scores. */
export function modelRanker(model: RankingModel): Ranker {
  const { name, version, training } = model.manifest;
  return {
    description: { name: `${name}@${version}`, kind: 'model', model: { name, version, trainingCutoffMs: training.cutoffMs ?? null } },
    async score({ session, user, items, nowMs }) {
      return { scores: (await scoreItems(model, session, user, items, nowMs)).scores };
    },
  };
}

/**
 * Builds a baseline ranker:
 * - `popular`: engagements decayed with a 7-day half-life (`positiveLong`), the popular pool's score;
 * - `trending`: engagements decayed with a 1-hour half-life (`positiveShort`), the trending pool's score;
 * - `covisit`: the session's co-visitation score of the item (`covisitScore`, from the neighbour lists
 *   of the session's recent engaged items), ties broken by `positiveLong`, then by item id;
 * - `random`: a uniform random score;
 * - `heuristic`: `heuristicScore`, the score the ranker falls back to when the model fails.
 */
export function baselineRanker(name: BaselineName): Ranker {
  const description: RankerDescription = { name, kind: 'baseline' };
  switch (name) {
    case 'popular':
      return { description, score: async ({ items }) => ({ scores: scoreEach(items, (item) => item.positiveLong) }) };
    case 'trending':
      return { description, score: async ({ items }) => ({ scores: scoreEach(items, (item) => item.positiveShort) }) };
    case 'covisit':
      return { description, score: async ({ items }) => scoreByCovisitation(items) };
    case 'random':
      return { description, score: async ({ items, random }) => ({ scores: scoreEach(items, () => random()) }) };
    case 'heuristic':
      return { description, score: async ({ items, session }) => ({ scores: Float64Array.from(items, (item) => heuristicScore(item, session)) }) };
  }
}

/** Scores each item with `score`, in a plain loop. */
function scoreEach(items: readonly ItemSnapshot[], score: (item: ItemSnapshot) => number): Float64Array {
  const scores = new Float64Array(items.length);
  for (let index = 0; index < items.length; index++) {
    scores[index] = score(items[index] as ItemSnapshot);
  }
  return scores;
}

/**
 * Scores by co-visitation first and popularity second: the co-visitation score, with
 * `positiveLong` as the tie-break, so that items without co-visitation still come in popularity
 * order. The values are read once per item, because `positiveLong` decays the stored count on
 * every read.
 */
function scoreByCovisitation(items: readonly ItemSnapshot[]): RankerScores {
  const scores = new Float64Array(items.length);
  const tieBreak = new Float64Array(items.length);
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as ItemSnapshot;
    scores[index] = item.covisitScore;
    tieBreak[index] = item.positiveLong;
  }
  return { scores, tieBreak };
}
