import type { TopLists } from './coverage';

/** A ranker the replay evaluates: a model or a baseline. */
export interface RankerDescription {
  /** `name@version` for a model, the baseline's name otherwise. */
  name: string;
  kind: 'model' | 'baseline';
  model?: { name: string; version: string; trainingCutoffMs: number | null };
}

/** What one ranker did at one evaluation point. */
export interface RankerResult {
  /** 1-based rank of the target, 0 when the ranked items lack it. */
  rank: number;
  /** The first items of its ranking, best first, at most the largest K. */
  top: readonly string[];
  /** Time spent ordering the candidates for this ranker, in ms. */
  latencyMs: number;
}

/** Maps item ids to dense indexes, for compact top lists. */
export class ItemIndex {
  private readonly indexes = new Map<string, number>();

  indexOf(itemId: string): number {
    let index = this.indexes.get(itemId);
    if (index === undefined) {
      index = this.indexes.size;
      this.indexes.set(itemId, index);
    }
    return index;
  }
}

/** Growable columns of one ranker's per-point results. */
class RankerColumns {
  readonly ranks: number[] = [];
  readonly latencyMs: number[] = [];
  readonly top: number[] = [];
  /** Novelty and diversity per K, one column each. */
  readonly novelty: number[][];
  readonly diversity: number[][];

  constructor(ks: readonly number[]) {
    this.novelty = ks.map(() => []);
    this.diversity = ks.map(() => []);
  }
}

/** Per-point quality of one list at each K, computed by the caller. */
export interface ListQuality {
  novelty: readonly number[];
  diversity: readonly number[];
}

/**
 * The evaluation points of a replay in time order, in columns: the key and time of each point, the
 * candidates, and every ranker's rank of the target, top list, list quality and latency.
 */
export class PointLog {
  readonly keys: string[] = [];
  readonly timesMs: number[] = [];
  readonly candidateCounts: number[] = [];
  readonly targetRetrieved: number[] = [];
  readonly items = new ItemIndex();
  private readonly columns: RankerColumns[];

  constructor(
    readonly rankers: readonly RankerDescription[],
    readonly ks: readonly number[],
  ) {
    this.columns = rankers.map(() => new RankerColumns(ks));
  }

  get depth(): number {
    return Math.max(...this.ks);
  }

  get size(): number {
    return this.keys.length;
  }

  /** Adds one point; `results` and `qualities` are in ranker order. */
  add(
    point: { key: string; tMs: number; candidateCount: number; targetRetrieved: boolean },
    results: readonly RankerResult[],
    qualities: readonly ListQuality[],
  ): void {
    this.keys.push(point.key);
    this.timesMs.push(point.tMs);
    this.candidateCounts.push(point.candidateCount);
    this.targetRetrieved.push(point.targetRetrieved ? 1 : 0);
    const depth = this.depth;
    results.forEach((result, rankerIndex) => {
      const columns = this.columns[rankerIndex] as RankerColumns;
      const quality = qualities[rankerIndex] as ListQuality;
      columns.ranks.push(result.rank);
      columns.latencyMs.push(result.latencyMs);
      for (let position = 0; position < depth; position++) {
        const itemId = result.top[position];
        columns.top.push(itemId === undefined ? -1 : this.items.indexOf(itemId));
      }
      this.ks.forEach((_, kIndex) => {
        (columns.novelty[kIndex] as number[]).push(quality.novelty[kIndex] as number);
        (columns.diversity[kIndex] as number[]).push(quality.diversity[kIndex] as number);
      });
    });
  }

  ranksOf(rankerIndex: number): readonly number[] {
    return this.column(rankerIndex).ranks;
  }

  latencyOf(rankerIndex: number): readonly number[] {
    return this.column(rankerIndex).latencyMs;
  }

  noveltyOf(rankerIndex: number, kIndex: number): readonly number[] {
    return this.column(rankerIndex).novelty[kIndex] ?? [];
  }

  diversityOf(rankerIndex: number, kIndex: number): readonly number[] {
    return this.column(rankerIndex).diversity[kIndex] ?? [];
  }

  topListsOf(rankerIndex: number): TopLists {
    return { items: Int32Array.from(this.column(rankerIndex).top), depth: this.depth, points: this.size };
  }

  private column(rankerIndex: number): RankerColumns {
    const columns = this.columns[rankerIndex];
    if (columns === undefined) {
      throw new RangeError(`ranker index ${rankerIndex} is out of range; the log has ${this.columns.length} rankers`);
    }
    return columns;
  }
}
