/**
 * Builds ranking examples by replaying recorded history through the shared feature code, so every
 * row contains the features the ranker would have computed at that instant.
 *
 * The replay applies the catalog, then each event in time order, to a `MemoryFeatureStore` whose
 * clock is the event time. An anchor is a `like` in a session that already had an event. Before
 * the anchor event is applied, the builder reads the session, generates candidates from the pools
 * and writes one row for the liked item (label 1) and K rows for sampled candidates (label 0).
 * A row therefore depends only on events earlier in the log than its anchor.
 */
import type { CatalogItem, Interaction } from '@nexttap/events';
import { buildFeatureMatrix, FEATURE_REGISTRY, applyCatalogItems, applyInteractions, readItemSnapshots, readSessionSnapshot, type FeatureMatrix } from '@nexttap/features';
import { covisitReadRequests, covisitSeeds, DEFAULT_CANDIDATE_LIMITS, generateCandidates, mergeNeighbours, PoolCache } from '@nexttap/rank';
import { MemoryFeatureStore } from '@nexttap/store';

/** Options of `buildTrainingSet`. Every option except `catalog` and `events` has a default. */
export interface BuildTrainingSetOptions {
  catalog: readonly CatalogItem[];
  /** Events sorted by `ts`, as `readMovieLensEvents` returns them. */
  events: readonly Interaction[];
  /** Maximum number of anchors, spread evenly over the eligible ones. Default 25000. */
  maxAnchors?: number;
  /** Negative rows per anchor (K). Default 4. */
  negativesPerPositive?: number;
  /** Seed of the negative sampling. Default 1. */
  seed?: number;
  /** Events between two pool refreshes. Default 1000. */
  poolRefreshEvents?: number;
  /** Anchors at or after this time (epoch ms) go to validation. Default: the 90th percentile of event time. */
  cutoffMs?: number;
  /** Called every `progressEvents` events and once at the end with the events replayed so far. */
  onProgress?: (replayedEvents: number, totalEvents: number) => void;
  /** Events between two `onProgress` calls. Default 10000. */
  progressEvents?: number;
}

/** One anchor event and the split its rows went to. */
export interface Anchor {
  /** Position of the event in `events`. The anchor's rows use only the events before it. */
  eventIndex: number;
  tsMs: number;
  sessionId: string;
  userId: string | undefined;
  /** The liked item, the positive row. */
  itemId: string;
  /** Whether candidate generation proposed the liked item. */
  targetAmongCandidates: boolean;
  split: 'train' | 'validation';
}

/** Labelled rows in anchor order: each anchor's positive row, then its K negative rows. */
export interface ExampleRows {
  /** Row-major `rows × featureNames.length` matrix of raw feature values. */
  features: Float32Array;
  /** 1 for the liked item, 0 for a sampled candidate. */
  labels: Float32Array;
  rows: number;
  itemIds: string[];
  /** Index into `TrainingSet.anchors` of each row. */
  anchorIndices: Int32Array;
}

/** Every candidate the ranker would score for one validation anchor, with the liked item among them. */
export interface CandidateList {
  anchorIndex: number;
  itemIds: string[];
  /** Row-major `itemIds.length × featureNames.length` matrix of raw feature values. */
  features: Float32Array;
  /** Row of the liked item. */
  targetRow: number;
  /** False when candidate generation missed the liked item and it was appended as the last row. */
  targetAmongCandidates: boolean;
}

export interface TrainingSetStats {
  events: number;
  /** Likes in a session that already had an event. */
  eligibleAnchors: number;
  /** Eligible anchors picked by the `maxAnchors` sampling. */
  sampledAnchors: number;
  /** Sampled anchors dropped because fewer than K candidates were left to sample negatives from. */
  skippedAnchors: number;
  trainAnchors: number;
  validationAnchors: number;
  /** Validation anchors whose liked item was among the generated candidates. */
  validationTargetsAmongCandidates: number;
  poolRefreshes: number;
}

export interface TrainingSet {
  /** Names of the feature columns, in `FEATURE_REGISTRY` order. */
  featureNames: string[];
  cutoffMs: number;
  negativesPerPositive: number;
  /** Anchors that produced rows, in time order. */
  anchors: Anchor[];
  train: ExampleRows;
  validation: ExampleRows;
  /** One list per validation anchor, in anchor order. */
  candidateLists: CandidateList[];
  stats: TrainingSetStats;
}

export const DEFAULT_MAX_ANCHORS = 25_000;
export const DEFAULT_NEGATIVES_PER_POSITIVE = 4;
export const DEFAULT_POOL_REFRESH_EVENTS = 1_000;
export const DEFAULT_CUTOFF_QUANTILE = 0.9;

/** Replays `events` and returns the labelled rows and validation candidate lists described above. */
export async function buildTrainingSet(options: BuildTrainingSetOptions): Promise<TrainingSet> {
  const settings = resolveOptions(options);
  const { events } = options;
  const eligible = findEligibleAnchors(events);
  const selected = new Set(sampleEvenly(eligible, settings.maxAnchors));

  let clockMs = events[0]?.ts ?? 0;
  const store = new MemoryFeatureStore({ now: () => clockMs, sweepIntervalMs: 0 });
  await applyCatalogItems(store, options.catalog);
  const pools = new PoolCache(store);
  const random = createRandom(settings.seed);
  const collector = new TrainingSetCollector(settings.negativesPerPositive);
  let poolRefreshes = 0;

  try {
    for (let eventIndex = 0; eventIndex < events.length; eventIndex++) {
      const event = events[eventIndex] as Interaction;
      clockMs = event.ts;
      // The ranker re-reads the pools on a timer, so its candidates lag the newest events. The lag
      // is counted here in events, because the MovieLens event rate varies by orders of magnitude.
      if (eventIndex % settings.poolRefreshEvents === 0) {
        await pools.refresh(event.ts);
        poolRefreshes += 1;
      }

      if (selected.has(eventIndex)) {
        const split = event.ts < settings.cutoffMs ? 'train' : 'validation';
        const example = await buildAnchorExample(store, pools, event, settings.negativesPerPositive, random, split === 'validation');
        collector.add(eventIndex, event, split, example);
      }

      await applyInteractions(store, [event]);
      if ((eventIndex + 1) % settings.progressEvents === 0) {
        options.onProgress?.(eventIndex + 1, events.length);
      }
    }
  } finally {
    await store.close();
  }
  options.onProgress?.(events.length, events.length);

  return collector.build(settings.cutoffMs, {
    events: events.length,
    eligibleAnchors: eligible.length,
    sampledAnchors: selected.size,
    poolRefreshes,
  });
}

/** Collects the anchors, their rows and the validation candidate lists during the replay. */
class TrainingSetCollector {
  private readonly anchors: Anchor[] = [];
  private readonly candidateLists: CandidateList[] = [];
  private readonly train = new ExampleRowsBuilder(FEATURE_REGISTRY.length);
  private readonly validation = new ExampleRowsBuilder(FEATURE_REGISTRY.length);
  private skippedAnchors = 0;

  constructor(private readonly negativesPerPositive: number) {}

  /** Adds one sampled anchor; an undefined example counts as skipped. */
  add(eventIndex: number, event: Interaction, split: Anchor['split'], example: AnchorExample | undefined): void {
    if (example === undefined) {
      this.skippedAnchors += 1;
      return;
    }
    const anchorIndex = this.anchors.length;
    this.anchors.push({
      eventIndex,
      tsMs: event.ts,
      sessionId: event.sessionId,
      userId: event.userId,
      itemId: event.itemId,
      targetAmongCandidates: example.targetAmongCandidates,
      split,
    });
    (split === 'train' ? this.train : this.validation).addAnchor(example, anchorIndex);
    if (example.candidateList !== undefined) {
      this.candidateLists.push({ anchorIndex, ...example.candidateList });
    }
  }

  build(
    cutoffMs: number,
    counts: Pick<TrainingSetStats, 'events' | 'eligibleAnchors' | 'sampledAnchors' | 'poolRefreshes'>,
  ): TrainingSet {
    const train = this.train.build();
    const validation = this.validation.build();
    const rowsPerAnchor = 1 + this.negativesPerPositive;
    return {
      featureNames: FEATURE_REGISTRY.map((feature) => feature.name),
      cutoffMs,
      negativesPerPositive: this.negativesPerPositive,
      anchors: this.anchors,
      train,
      validation,
      candidateLists: this.candidateLists,
      stats: {
        events: counts.events,
        eligibleAnchors: counts.eligibleAnchors,
        sampledAnchors: counts.sampledAnchors,
        skippedAnchors: this.skippedAnchors,
        trainAnchors: train.rows / rowsPerAnchor,
        validationAnchors: validation.rows / rowsPerAnchor,
        validationTargetsAmongCandidates: this.candidateLists.filter((list) => list.targetAmongCandidates).length,
        poolRefreshes: counts.poolRefreshes,
      },
    };
  }
}

type ResolvedOptions = Required<Omit<BuildTrainingSetOptions, 'catalog' | 'events' | 'onProgress'>>;

function resolveOptions(options: BuildTrainingSetOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    maxAnchors: options.maxAnchors ?? DEFAULT_MAX_ANCHORS,
    negativesPerPositive: options.negativesPerPositive ?? DEFAULT_NEGATIVES_PER_POSITIVE,
    seed: options.seed ?? 1,
    poolRefreshEvents: options.poolRefreshEvents ?? DEFAULT_POOL_REFRESH_EVENTS,
    cutoffMs: options.cutoffMs ?? eventTimeQuantile(options.events, DEFAULT_CUTOFF_QUANTILE),
    progressEvents: options.progressEvents ?? 10_000,
  };
  for (const name of ['maxAnchors', 'negativesPerPositive', 'poolRefreshEvents', 'progressEvents'] as const) {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${name} ${value} is invalid; pass a positive integer`);
    }
  }
  if (!Number.isSafeInteger(resolved.seed)) {
    throw new RangeError(`seed ${resolved.seed} is invalid; pass an integer`);
  }
  for (let index = 1; index < options.events.length; index++) {
    if ((options.events[index] as Interaction).ts < (options.events[index - 1] as Interaction).ts) {
      throw new RangeError(`events are not sorted by time: event ${index} is earlier than event ${index - 1}; sort them by ts`);
    }
  }
  return resolved;
}

/**
 * Returns the nearest-rank `quantile` of the event times, in epoch ms. Events must be sorted by
 * time. Returns 0 when there are no events.
 */
export function eventTimeQuantile(events: readonly Interaction[], quantile: number): number {
  if (events.length === 0) {
    return 0;
  }
  const rank = Math.min(events.length, Math.max(1, Math.ceil(quantile * events.length)));
  return (events[rank - 1] as Interaction).ts;
}

/** Returns the positions of the likes whose session already had an event earlier in the log. */
function findEligibleAnchors(events: readonly Interaction[]): number[] {
  const seenSessions = new Set<string>();
  const eligible: number[] = [];
  events.forEach((event, index) => {
    if (event.type === 'like' && seenSessions.has(event.sessionId)) {
      eligible.push(index);
    }
    seenSessions.add(event.sessionId);
  });
  return eligible;
}

/**
 * Picks at most `maxAnchors` positions, evenly spaced over `eligible`, so the sample covers the
 * whole history and the same input always gives the same anchors.
 */
function sampleEvenly(eligible: readonly number[], maxAnchors: number): number[] {
  if (eligible.length <= maxAnchors) {
    return [...eligible];
  }
  const picked: number[] = [];
  for (let sample = 0; sample < maxAnchors; sample++) {
    picked.push(eligible[Math.floor((sample * eligible.length) / maxAnchors)] as number);
  }
  return picked;
}

interface AnchorExample {
  /** Features of `itemIds`, one row each. */
  matrix: FeatureMatrix;
  itemIds: string[];
  /** Rows of `matrix` that form the labelled example: the liked item, then the K negatives. */
  exampleRows: number[];
  targetAmongCandidates: boolean;
  /** Present when the caller asked for the full candidate list. */
  candidateList: Omit<CandidateList, 'anchorIndex'> | undefined;
}

/**
 * Reads the state the ranker would see just before `event` and returns the anchor's rows, or
 * undefined when fewer than `negativesPerPositive` candidates remain to sample from. Candidates
 * exclude the items the session or user already engaged with, as `rankFeed` does. Features are
 * computed for every candidate only when `withCandidateList` is set, because that is 100 times
 * the work of the K + 1 example rows.
 */
async function buildAnchorExample(
  store: MemoryFeatureStore,
  pools: PoolCache,
  event: Interaction,
  negativesPerPositive: number,
  random: () => number,
  withCandidateList: boolean,
): Promise<AnchorExample | undefined> {
  const { session, user } = await readSessionSnapshot(store, event.sessionId, event.userId, event.ts);
  const target = event.itemId;
  const engaged = (itemId: string) => session.interacted.has(itemId) || (user?.interacted.has(itemId) ?? false);
  // The ranker also proposes the co-visitation neighbours of the session's recent engaged items.
  const seeds = covisitSeeds(session);
  const neighbours = seeds.length === 0 ? [] : mergeNeighbours(seeds, await store.read(covisitReadRequests(seeds)));
  const candidateIds = generateCandidates(pools.current, session, user, DEFAULT_CANDIDATE_LIMITS, neighbours)
    .map((candidate) => candidate.itemId)
    .filter((itemId) => itemId === target || !engaged(itemId));
  const negativePool = candidateIds.filter((itemId) => itemId !== target);
  if (negativePool.length < negativesPerPositive) {
    return undefined;
  }
  const negatives = sampleWithoutReplacement(negativePool, negativesPerPositive, random);

  const exampleIds = [target, ...negatives];
  const targetAmongCandidates = candidateIds.includes(target);
  if (!withCandidateList) {
    const items = await readItemSnapshots(store, exampleIds, event.ts, session);
    const matrix = buildFeatureMatrix(FEATURE_REGISTRY, session, user, items, event.ts);
    return { matrix, itemIds: exampleIds, exampleRows: exampleIds.map((_, row) => row), targetAmongCandidates, candidateList: undefined };
  }

  const itemIds = targetAmongCandidates ? candidateIds : [...candidateIds, target];
  const items = await readItemSnapshots(store, itemIds, event.ts, session);
  const matrix = buildFeatureMatrix(FEATURE_REGISTRY, session, user, items, event.ts);
  const rowOf = new Map(itemIds.map((itemId, row) => [itemId, row]));
  return {
    matrix,
    itemIds,
    exampleRows: exampleIds.map((itemId) => rowOf.get(itemId) as number),
    targetAmongCandidates,
    candidateList: { itemIds, features: matrix.data, targetRow: rowOf.get(target) as number, targetAmongCandidates },
  };
}

/** Draws `count` distinct entries with a partial Fisher–Yates shuffle of a copy. */
function sampleWithoutReplacement<T>(values: readonly T[], count: number, random: () => number): T[] {
  const copy = [...values];
  for (let index = 0; index < count; index++) {
    const pick = index + Math.floor(random() * (copy.length - index));
    [copy[index], copy[pick]] = [copy[pick] as T, copy[index] as T];
  }
  return copy.slice(0, count);
}

/** Collects one split's rows as anchors arrive, then packs them into typed arrays. */
class ExampleRowsBuilder {
  private readonly features: number[] = [];
  private readonly labels: number[] = [];
  private readonly itemIds: string[] = [];
  private readonly anchorIndices: number[] = [];

  constructor(private readonly columns: number) {}

  addAnchor(example: AnchorExample, anchorIndex: number): void {
    example.exampleRows.forEach((row, position) => {
      const start = row * this.columns;
      for (let column = 0; column < this.columns; column++) {
        this.features.push(example.matrix.data[start + column] as number);
      }
      this.labels.push(position === 0 ? 1 : 0);
      this.itemIds.push(example.itemIds[row] as string);
      this.anchorIndices.push(anchorIndex);
    });
  }

  build(): ExampleRows {
    return {
      features: Float32Array.from(this.features),
      labels: Float32Array.from(this.labels),
      rows: this.labels.length,
      itemIds: this.itemIds,
      anchorIndices: Int32Array.from(this.anchorIndices),
    };
  }
}

/**
 * Returns a seeded generator of floats in [0, 1) (mulberry32), so negative sampling and shuffling
 * give the same result on every run with the same seed.
 */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}
