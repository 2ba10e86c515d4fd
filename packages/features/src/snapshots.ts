import type { CatalogItem } from '@nexttap/events';
import { catalogFactsOf, type CatalogFacts } from './catalog-facts';
import { decayDivisor, readDecayed } from './decay';
import { allocateItemColumns, type ItemColumns } from './item-columns';
import { keys } from './keys';
import { halfLifeOfField, LANDMARK_FIELD, ZSET_LANDMARK_SUFFIX, type ReadRequest, type ReadResult } from './operations';
import { GLOBAL_FIELDS, ITEM_FIELDS, ITEM_STAT_FIELDS, isPositive, itemTypeField } from './plan';
import { decodeRecent, type RecentEntry } from './recent';
import { COVISIT_SCORE_SCALE, FEATURE_SETTINGS } from './settings';

export type { RecentEntry } from './recent';

/** A session's feature state at one instant; decayed values are read at that instant. */
export interface SessionSnapshot {
  sessionId: string;
  /** Recent events, newest first. */
  recent: RecentEntry[];
  /** Category affinity decayed to the read time; negative after skips and hides. */
  categoryAffinity: Map<string, number>;
  creatorAffinity: Map<string, number>;
  /** Items with any engagement other than an impression. */
  interacted: ReadonlySet<string>;
  events: number;
  lastTs: number | undefined;
  lastPositiveTs: number | undefined;
}

export interface UserSnapshot {
  userId: string;
  categoryAffinity: Map<string, number>;
  creatorAffinity: Map<string, number>;
  /**
   * Items with any engagement other than an impression; when the user was read for given items
   * (`sessionReadRequests`' `userInteractedAmong`), only those of them.
   */
  interacted: ReadonlySet<string>;
}

/** Smoothed-rate priors from the counters over all items. */
export interface GlobalPriors {
  tapRate: number;
  completionRate: number;
}

/** An item's counters decayed to the read time, its catalog record, and its relation to the session. */
export interface ItemSnapshot {
  itemId: string;
  catalog: CatalogItem | undefined;
  /** The catalog record's fields that features read per candidate; undefined without a record. */
  facts: CatalogFacts | undefined;
  /** Decayed value of every field of `ITEM_STAT_FIELDS`, by field name. */
  stats: StatReader;
  positiveMinutes: number;
  positiveShort: number;
  positiveDay: number;
  positiveLong: number;
  /** Day-half-life counts of impressions, taps, likes, and of every engagement but impressions. */
  impressions: number;
  taps: number;
  likes: number;
  interactions: number;
  /** Sum of the decayed co-visitation scores from the session's recent engaged items to this item. */
  covisitScore: number;
  seenInSession: boolean;
  priors: GlobalPriors;
}

/** Read access to an item's decayed stats by field name; undefined for a field that is not a stat. */
export interface StatReader {
  get(field: string): number | undefined;
  /** Returns the stat at `index` of `ITEM_STAT_FIELDS` (`itemStatIndex`), 0 past the end. */
  at(index: number): number;
}

const STAT_COUNT = ITEM_STAT_FIELDS.length;
const STAT_INDEX = new Map(ITEM_STAT_FIELDS.map((field, index) => [field, index]));
const STAT_HALF_LIVES = ITEM_STAT_FIELDS.map((field) => halfLifeOfField(field) as number);
const DISTINCT_HALF_LIVES = [...new Set(STAT_HALF_LIVES)];
/** For each stat field, the index of its half-life in `DISTINCT_HALF_LIVES`. */
const HALF_LIFE_SLOT = Uint8Array.from(STAT_HALF_LIVES, (halfLifeMs) => DISTINCT_HALF_LIVES.indexOf(halfLifeMs));
/** The packed snapshot and decay factors of an item without a packed snapshot: every stat 0. */
const EMPTY_PACKED = new Float64Array(STAT_COUNT + 1);
const UNIT_FACTORS = new Float64Array(DISTINCT_HALF_LIVES.length).fill(1);

function statIndex(field: string): number {
  return STAT_INDEX.get(field) as number;
}

/**
 * Returns the position of a stat field in `ITEM_STAT_FIELDS`, so that code reading a stat for
 * every candidate can look the name up once and call `StatReader.at`. Throws for a field that is
 * not an item stat.
 */
export function itemStatIndex(field: string): number {
  const index = STAT_INDEX.get(field);
  if (index === undefined) {
    throw new Error(`${field} is not an item stat field; use one of ITEM_STAT_FIELDS`);
  }
  return index;
}

/** Positions in `ITEM_STAT_FIELDS` of the stats that every item snapshot names. */
const STAT = {
  positiveMinutes: statIndex(ITEM_FIELDS.positiveMinutes),
  positiveHour: statIndex(ITEM_FIELDS.positiveHour),
  positiveDay: statIndex(ITEM_FIELDS.positiveDay),
  positiveWeek: statIndex(ITEM_FIELDS.positiveWeek),
  impression: statIndex(itemTypeField('impression', 'day')),
  tap: statIndex(itemTypeField('tap', 'day')),
  play: statIndex(itemTypeField('play', 'day')),
  complete: statIndex(itemTypeField('complete', 'day')),
  like: statIndex(itemTypeField('like', 'day')),
  share: statIndex(itemTypeField('share', 'day')),
  comment: statIndex(itemTypeField('comment', 'day')),
  skip: statIndex(itemTypeField('skip', 'day')),
  hide: statIndex(itemTypeField('hide', 'day')),
} as const;

/** Positions in `DISTINCT_HALF_LIVES` of the half-lives of the stats that `writeStats` reads. */
const SLOT = {
  hour: HALF_LIFE_SLOT[STAT.positiveHour] as number,
  day: HALF_LIFE_SLOT[STAT.positiveDay] as number,
  week: HALF_LIFE_SLOT[STAT.positiveWeek] as number,
} as const;
const DWELL_COUNT_DAY = statIndex(ITEM_FIELDS.dwellCountDay);
const DWELL_SECONDS_DAY = statIndex(ITEM_FIELDS.dwellSecondsDay);

/**
 * The snapshot of one item that `ItemSnapshotBuilder` builds. Every decayed value is computed when
 * read: the packed value times the decay factor of its half-life, at `offset` of a factor block
 * shared by a batch of items. The product is the one an eager copy would store. V8 keeps each
 * double field of an object in a heap number of its own. With eager fields and a separate stats
 * object the snapshots of a 200-candidate feed took about 67 KB, and about 28 KB like this (V8
 * sampling heap profiles of `bench/feed-cpu-profile.ts`). Packed snapshots are never changed after
 * a read. The object is its own `stats`.
 */
class DecayedItemSnapshot implements ItemSnapshot, StatReader {
  readonly #packed: Float64Array;
  readonly #factors: Float64Array;
  readonly #offset: number;

  constructor(
    readonly itemId: string,
    readonly catalog: CatalogItem | undefined,
    readonly facts: CatalogFacts | undefined,
    packed: Float64Array,
    factors: Float64Array,
    offset: number,
    readonly covisitScore: number,
    readonly seenInSession: boolean,
    readonly priors: GlobalPriors,
  ) {
    this.#packed = packed;
    this.#factors = factors;
    this.#offset = offset;
  }

  get stats(): StatReader {
    return this;
  }

  get(field: string): number | undefined {
    const index = STAT_INDEX.get(field);
    return index === undefined ? undefined : this.at(index);
  }

  /** Returns the stat at `index` of `ITEM_STAT_FIELDS`. */
  at(index: number): number {
    const slot = HALF_LIFE_SLOT[index];
    return slot === undefined ? 0 : (this.#packed[index + 1] ?? 0) * (this.#factors[this.#offset + slot] as number);
  }

  get positiveMinutes(): number {
    return this.at(STAT.positiveMinutes);
  }

  get positiveShort(): number {
    return this.at(STAT.positiveHour);
  }

  get positiveDay(): number {
    return this.at(STAT.positiveDay);
  }

  get positiveLong(): number {
    return this.at(STAT.positiveWeek);
  }

  get impressions(): number {
    return this.at(STAT.impression);
  }

  get taps(): number {
    return this.at(STAT.tap);
  }

  get likes(): number {
    return this.at(STAT.like);
  }

  get interactions(): number {
    return (
      this.at(STAT.tap) +
      this.at(STAT.play) +
      this.at(STAT.complete) +
      this.at(STAT.like) +
      this.at(STAT.share) +
      this.at(STAT.comment) +
      this.at(STAT.skip) +
      this.at(STAT.hide)
    );
  }

  /**
   * Writes the decayed stats of row `row` of `columns`, with the products and sums the getters
   * compute, in their order, so that the values are equal bit for bit.
   */
  writeStats(columns: ItemColumns, row: number): void {
    const packed = this.#packed;
    const factors = this.#factors;
    const hour = factors[this.#offset + SLOT.hour] as number;
    const day = factors[this.#offset + SLOT.day] as number;
    const week = factors[this.#offset + SLOT.week] as number;
    // `?? 0` reads a stat missing from a shorter snapshot, of an older writer, as 0, as `at` does.
    const taps = (packed[STAT.tap + 1] ?? 0) * day;
    const plays = (packed[STAT.play + 1] ?? 0) * day;
    const completes = (packed[STAT.complete + 1] ?? 0) * day;
    const likes = (packed[STAT.like + 1] ?? 0) * day;
    const shares = (packed[STAT.share + 1] ?? 0) * day;
    const comments = (packed[STAT.comment + 1] ?? 0) * day;
    const skips = (packed[STAT.skip + 1] ?? 0) * day;
    const hides = (packed[STAT.hide + 1] ?? 0) * day;
    columns.positiveHour[row] = (packed[STAT.positiveHour + 1] ?? 0) * hour;
    columns.positiveDay[row] = (packed[STAT.positiveDay + 1] ?? 0) * day;
    columns.positiveWeek[row] = (packed[STAT.positiveWeek + 1] ?? 0) * week;
    columns.impressions[row] = (packed[STAT.impression + 1] ?? 0) * day;
    columns.taps[row] = taps;
    columns.plays[row] = plays;
    columns.completes[row] = completes;
    columns.likes[row] = likes;
    columns.skips[row] = skips;
    columns.hides[row] = hides;
    columns.interactions[row] = taps + plays + completes + likes + shares + comments + skips + hides;
    columns.dwellCount[row] = (packed[DWELL_COUNT_DAY + 1] ?? 0) * day;
    columns.dwellSeconds[row] = (packed[DWELL_SECONDS_DAY + 1] ?? 0) * day;
  }
}

/** Writes what `DecayedItemSnapshot.writeStats` writes, for a snapshot of another class, through its getters. */
function writeStatsOf(item: ItemSnapshot, columns: ItemColumns, row: number): void {
  columns.positiveHour[row] = item.positiveShort;
  columns.positiveDay[row] = item.positiveDay;
  columns.positiveWeek[row] = item.positiveLong;
  columns.impressions[row] = item.impressions;
  columns.taps[row] = item.taps;
  columns.plays[row] = item.stats.at(STAT.play);
  columns.completes[row] = item.stats.at(STAT.complete);
  columns.likes[row] = item.likes;
  columns.skips[row] = item.stats.at(STAT.skip);
  columns.hides[row] = item.stats.at(STAT.hide);
  columns.interactions[row] = item.interactions;
  columns.dwellCount[row] = item.stats.at(DWELL_COUNT_DAY);
  columns.dwellSeconds[row] = item.stats.at(DWELL_SECONDS_DAY);
}

/** Category numbers that `itemColumnsOf` makes room for per item before it grows the array. */
const INITIAL_CATEGORIES_PER_ITEM = 4;

/**
 * Returns the inputs of the feature kernels for `items`, one row per item in order. Each
 * snapshot and catalog record is read once here, instead of once per feature. The columns are
 * written into `reuse` when it has room for every row, which overwrites what it contained.
 */
export function itemColumnsOf(items: readonly ItemSnapshot[], reuse?: ItemColumns): ItemColumns {
  const rows = items.length;
  const columns = reuse !== undefined && reuse.positiveHour.length >= rows ? reuse : allocateItemColumns(rows, rows * INITIAL_CATEGORIES_PER_ITEM);
  columns.rows = rows;
  let nextCategory = 0;
  for (let row = 0; row < rows; row++) {
    const item = items[row] as ItemSnapshot;
    if (item instanceof DecayedItemSnapshot) {
      item.writeStats(columns, row);
    } else {
      writeStatsOf(item, columns, row);
    }
    columns.covisitScore[row] = item.covisitScore;
    columns.seenInSession[row] = item.seenInSession ? 1 : 0;
    columns.tapRatePrior[row] = item.priors.tapRate;
    columns.completionRatePrior[row] = item.priors.completionRate;
    columns.categoryStarts[row] = nextCategory;
    const facts = item.facts;
    if (facts === undefined) {
      columns.publishedAtMs[row] = Number.NaN;
      columns.hasPublishedAt[row] = 0;
      columns.live[row] = 0;
      columns.categoryCount[row] = Number.NaN;
      columns.creatorIds[row] = undefined;
      continue;
    }
    const categories = facts.categoryNumbers;
    if (nextCategory + categories.length > columns.categoryNumbers.length) {
      const grown = new Int32Array(Math.max(2 * columns.categoryNumbers.length, nextCategory + categories.length));
      grown.set(columns.categoryNumbers.subarray(0, nextCategory));
      columns.categoryNumbers = grown;
    }
    for (let index = 0; index < categories.length; index++) {
      columns.categoryNumbers[nextCategory++] = categories[index] as number;
    }
    columns.publishedAtMs[row] = facts.hasPublishedAt ? facts.publishedAtMs : Number.NaN;
    columns.hasPublishedAt[row] = facts.hasPublishedAt ? 1 : 0;
    columns.live[row] = facts.live ? 1 : 0;
    columns.categoryCount[row] = categories.length;
    columns.creatorIds[row] = facts.creatorId;
  }
  columns.categoryStarts[rows] = nextCategory;
  return columns;
}

/**
 * Parsed catalog records by their JSON text. The ranker parses the same few thousand records on
 * every request, so the text is the cache key: an updated record has new text and is parsed anew.
 */
const catalogCache = new Map<string, CatalogItem>();
const CATALOG_CACHE_MAX = 50_000;

/** Parses a catalog record as ingest stored it; a repeated text returns the same object. */
export function parseCatalogText(text: string): CatalogItem {
  let item = catalogCache.get(text);
  if (item === undefined) {
    item = JSON.parse(text) as CatalogItem;
    if (catalogCache.size >= CATALOG_CACHE_MAX) {
      catalogCache.clear();
    }
    catalogCache.set(text, item);
  }
  return item;
}

/** Prior tap-through and completion rates used before any impressions or plays are counted. */
export const DEFAULT_PRIORS: GlobalPriors = { tapRate: 0.1, completionRate: 0.5 };

/** Recent engaged items whose co-visitation lists score the candidates, newest first. */
export function covisitSources(session: SessionSnapshot): string[] {
  const sources: string[] = [];
  for (const entry of session.recent) {
    if (sources.length === FEATURE_SETTINGS.covisitSources) {
      break;
    }
    if (isPositive(entry) && !sources.includes(entry.itemId)) {
      sources.push(entry.itemId);
    }
  }
  return sources;
}

/**
 * Builds the reads of a session (and its user, when given); `parseSessionReads` decodes their
 * results. With `userInteractedAmong`, the user's engaged items are looked up among those items
 * only instead of read whole. A returning user may have up to `userInteractedMax` of them, and a
 * feed that re-ranks its request's candidates needs only those.
 */
export function sessionReadRequests(sessionId: string, userId: string | undefined, userInteractedAmong?: readonly string[]): ReadRequest[] {
  const requests: ReadRequest[] = [
    { kind: 'list', key: keys.sessionRecent(sessionId), limit: FEATURE_SETTINGS.sessionRecentMax },
    { kind: 'hash', key: keys.sessionAffinity(sessionId) },
    { kind: 'zsetMembers', key: keys.sessionInteracted(sessionId), limit: FEATURE_SETTINGS.sessionInteractedMax },
    { kind: 'hash', key: keys.sessionMeta(sessionId) },
  ];
  if (userId !== undefined) {
    requests.push(
      { kind: 'hash', key: keys.userAffinity(userId) },
      userInteractedAmong === undefined
        ? { kind: 'zsetMembers', key: keys.userInteracted(userId), limit: FEATURE_SETTINGS.userInteractedMax }
        : { kind: 'zsetScores', key: keys.userInteracted(userId), members: userInteractedAmong },
    );
  }
  return requests;
}

/**
 * Parses the results of `sessionReadRequests`, decaying affinities to `nowMs`. `userInteractedAmong`
 * must be the one the requests were built with.
 */
export function parseSessionReads(
  sessionId: string,
  userId: string | undefined,
  results: readonly ReadResult[],
  nowMs: number,
  userInteractedAmong?: readonly string[],
): { session: SessionSnapshot; user: UserSnapshot | undefined } {
  const [recent, affinity, interacted, meta, userAffinity, userInteracted] = results;
  const metaFields = hashValue(meta);
  const sessionAffinity = splitAffinity(decayHash(hashValue(affinity), nowMs));
  const session: SessionSnapshot = {
    sessionId,
    recent: listValue(recent).flatMap((text) => decodeRecent(text) ?? []),
    categoryAffinity: sessionAffinity.categories,
    creatorAffinity: sessionAffinity.creators,
    interacted: memberSetOf(interacted),
    events: Number(metaFields.events ?? 0),
    lastTs: optionalNumber(metaFields.lastTs),
    lastPositiveTs: optionalNumber(metaFields.lastPositiveTs),
  };
  if (userId === undefined) {
    return { session, user: undefined };
  }
  const longTerm = splitAffinity(decayHash(hashValue(userAffinity), nowMs));
  const userEngaged = userInteractedAmong === undefined ? memberSetOf(userInteracted) : membersWithScores(userInteracted, userInteractedAmong);
  const user = { userId, categoryAffinity: longTerm.categories, creatorAffinity: longTerm.creators, interacted: userEngaged };
  return { session, user };
}

/**
 * Builds the reads of the items' counters, catalog records and global priors, and, with a session,
 * whether the session saw each item and its co-visitation scores: one round trip.
 */
export function itemReadRequests(itemIds: readonly string[], session?: SessionSnapshot): ReadRequest[] {
  const members = [...itemIds];
  const requests: ReadRequest[] = [
    { kind: 'snapshots', keys: members.map((itemId) => keys.itemSnapshot(itemId)) },
    { kind: 'strings', keys: members.map((itemId) => keys.itemCatalog(itemId)) },
    { kind: 'hash', key: keys.globalStats() },
  ];
  if (session !== undefined) {
    const sources = covisitSources(session);
    requests.push({ kind: 'zsetScores', key: keys.sessionSeen(session.sessionId), members });
    requests.push({ kind: 'strings', keys: sources.map((source) => keys.itemCovisit(source) + ZSET_LANDMARK_SUFFIX) });
    for (const source of sources) {
      requests.push({ kind: 'zsetScores', key: keys.itemCovisit(source), members });
    }
  }
  return requests;
}

/** Parses the results of `itemReadRequests`, decaying counters to `nowMs`. */
export function parseItemReads(itemIds: readonly string[], results: readonly ReadResult[], nowMs: number, session?: SessionSnapshot): ItemSnapshot[] {
  const [snapshots, catalogs, global, seen, covisitLandmarks, ...covisits] = results;
  const snapshotValues = snapshots?.kind === 'snapshots' ? snapshots.value : [];
  const catalogValues = catalogs?.kind === 'strings' ? catalogs.value : [];
  const priors = parsePriors(hashValue(global), nowMs);
  const seenScores = session !== undefined && seen?.kind === 'zsetScores' ? seen.value : [];
  const landmarks = covisitLandmarks?.kind === 'strings' ? covisitLandmarks.value.map(Number) : [];
  const builder = new ItemSnapshotBuilder(itemIds.length, nowMs, priors);
  return itemIds.map((itemId, index) => {
    let covisitScore = 0;
    for (let source = 0; source < covisits.length; source++) {
      const result = covisits[source];
      const score = result?.kind === 'zsetScores' ? result.value[index] : null;
      if (score !== null && score !== undefined) {
        covisitScore += readDecayed(score / COVISIT_SCORE_SCALE, landmarks[source] ?? nowMs, nowMs, FEATURE_SETTINGS.covisitHalfLifeMs);
      }
    }
    const catalogText = catalogValues[index];
    const seenInSession = seenScores[index] !== undefined && seenScores[index] !== null;
    return builder.build(itemId, snapshotValues[index] ?? null, catalogText ? parseCatalogText(catalogText) : undefined, covisitScore, seenInSession);
  });
}

/**
 * Returns a packed snapshot moved to the landmark `referenceMs`: every stat times
 * 2^((landmark − referenceMs) / halfLife), which forward decay allows because it leaves the
 * decayed value at any time unchanged. Snapshots that share a landmark share their decay factors
 * in `ItemSnapshotBuilder`, so a cache that moves its items to one landmark decays a feed with one
 * power per half-life instead of one per half-life and item. The decayed values equal those of
 * the original snapshot up to rounding (a relative difference near 1e-16), not bit for bit.
 */
export function rebasePackedSnapshot(packed: Float64Array, referenceMs: number): Float64Array {
  const landmarkMs = packed[0] ?? 0;
  const factors = DISTINCT_HALF_LIVES.map((halfLifeMs) => readDecayed(1, landmarkMs, referenceMs, halfLifeMs));
  const rebased = new Float64Array(packed.length);
  rebased[0] = referenceMs;
  for (let index = 1; index < packed.length; index++) {
    const slot = HALF_LIFE_SLOT[index - 1];
    // Fields past the known stats, from a newer writer, are kept as they are: nothing reads them.
    rebased[index] = slot === undefined ? (packed[index] as number) : (packed[index] as number) * (factors[slot] as number);
  }
  return rebased;
}

/** Landmark groups that an `ItemSnapshotBuilder` makes room for before its factor block grows. */
const INITIAL_FACTOR_GROUPS = 4;

/**
 * Builds the snapshots of a batch of items read at one instant. The decay factors of all items
 * share one typed array, so a batch allocates one block instead of one array per item.
 */
export class ItemSnapshotBuilder {
  /**
   * Decay factors, one per distinct half-life, in a group per run of items with one landmark. It
   * starts with room for a few groups and doubles when full, because the items of a feed usually
   * share one or two landmarks. Snapshots built before a growth keep the block they were built with.
   */
  private factors: Float64Array;
  private next = 0;
  /** Offset in `factors` of the last group, and the landmark it was computed for. */
  private lastOffset = -1;
  private lastLandmarkMs = Number.NaN;
  private built = 0;

  /** @param capacity items with a packed snapshot that this builder builds at most */
  constructor(
    private readonly capacity: number,
    private readonly nowMs: number,
    private readonly priors: GlobalPriors,
  ) {
    this.factors = new Float64Array(Math.min(capacity, INITIAL_FACTOR_GROUPS) * DISTINCT_HALF_LIVES.length);
  }

  /**
   * Builds one item's snapshot from its packed snapshot (the landmark, then `ITEM_STAT_FIELDS`,
   * or null when the item has none), decaying every stat to the builder's instant with one power
   * per distinct half-life. `facts` must be `catalogFactsOf(catalog)`. A caller that keeps them
   * with the record passes them to save the lookup.
   */
  build(
    itemId: string,
    packed: Float64Array | null,
    catalog: CatalogItem | undefined,
    covisitScore: number,
    seenInSession: boolean,
    facts: CatalogFacts | undefined = catalog === undefined ? undefined : catalogFactsOf(catalog),
  ): ItemSnapshot {
    if (packed === null) {
      return new DecayedItemSnapshot(itemId, catalog, facts, EMPTY_PACKED, UNIT_FACTORS, 0, covisitScore, seenInSession, this.priors);
    }
    const offset = this.factorOffset(packed);
    return new DecayedItemSnapshot(itemId, catalog, facts, packed, this.factors, offset, covisitScore, seenInSession, this.priors);
  }

  /** Returns the offset in `factors` of the decay factors of `packed`'s landmark, computing them when the landmark changed. */
  private factorOffset(packed: Float64Array): number {
    if (this.built === this.capacity) {
      throw new RangeError(`ItemSnapshotBuilder capacity exceeded: it was created for ${this.capacity} items; create it with a larger capacity`);
    }
    this.built += 1;
    const landmarkMs = packed[0] ?? 0;
    // Items cached in one minute, or written in one batch, share a landmark and so their factors.
    if (landmarkMs !== this.lastLandmarkMs) {
      if (this.next === this.factors.length) {
        const grown = new Float64Array(this.factors.length * 2);
        grown.set(this.factors);
        this.factors = grown;
      }
      this.lastOffset = this.next;
      this.lastLandmarkMs = landmarkMs;
      for (let slot = 0; slot < DISTINCT_HALF_LIVES.length; slot++) {
        this.factors[this.next + slot] = readDecayed(1, landmarkMs, this.nowMs, DISTINCT_HALF_LIVES[slot] as number);
      }
      this.next += DISTINCT_HALF_LIVES.length;
    }
    return this.lastOffset;
  }
}

/**
 * Sums, for each item, the decayed co-visitation scores of `lists` at `nowMs`, adding the sources
 * in order. The lists are the results of `covisitListRequests`: each sorted set read whole with
 * its landmark, which gives the same scores as reading each item's score, because the store keeps
 * at most `covisitMaxNeighbours` members per set.
 */
export function covisitScoresOf(itemIds: readonly string[], lists: readonly ReadResult[], nowMs: number): Float64Array {
  const scores = new Float64Array(itemIds.length);
  if (lists.length === 0) {
    return scores;
  }
  // Sums by member first, because the lists hold at most 5 × 50 members and a feed up to 400
  // candidates. A member's terms are added in list order, starting from 0.
  const sums = new Map<string, number>();
  for (const list of lists) {
    if (list.kind !== 'zsetTop') {
      continue;
    }
    // One divisor per list, as `readDecayed` would compute it for each member.
    const divisor = decayDivisor(list.landmarkMs, nowMs, FEATURE_SETTINGS.covisitHalfLifeMs);
    for (const { member, score } of list.value) {
      sums.set(member, (sums.get(member) ?? 0) + score / COVISIT_SCORE_SCALE / divisor);
    }
  }
  // Items are visited from the end and each sum is used once, so that a repeated item id gets
  // its score at its last position only.
  for (let index = itemIds.length - 1; index >= 0; index--) {
    const itemId = itemIds[index] as string;
    const sum = sums.get(itemId);
    if (sum !== undefined) {
      scores[index] = sum;
      sums.delete(itemId);
    }
  }
  return scores;
}

/** Builds the whole-set reads of the co-visitation lists that score a session's candidates, in source order. */
export function covisitListRequests(session: SessionSnapshot): ReadRequest[] {
  return covisitSources(session).map((source) => ({ kind: 'zsetTop', key: keys.itemCovisit(source), limit: FEATURE_SETTINGS.covisitMaxNeighbours }));
}

/** Builds the read of the global counters; `priorsOf` turns its result into priors. */
export function globalStatsRequest(): ReadRequest {
  return { kind: 'hash', key: keys.globalStats() };
}

/** Returns the priors of the smoothed rates from the result of `globalStatsRequest`, decayed to `nowMs`. */
export function priorsOf(result: ReadResult | undefined, nowMs: number): GlobalPriors {
  return parsePriors(hashValue(result), nowMs);
}

/** Builds the read of which of `itemIds` the session has seen; `seenFlagsOf` decodes its result. */
export function sessionSeenRequest(sessionId: string, itemIds: readonly string[]): ReadRequest {
  return { kind: 'zsetScores', key: keys.sessionSeen(sessionId), members: [...itemIds] };
}

/**
 * Builds the read of every item the session has seen, whatever the candidates; `seenFlagsAmong`
 * decodes its result. The set is read whole because ingest trims it to `sessionSeenMax` members
 * in the write that adds to it. It costs one argument instead of one per candidate.
 */
export function sessionSeenSetRequest(sessionId: string): ReadRequest {
  return { kind: 'zsetMembers', key: keys.sessionSeen(sessionId), limit: FEATURE_SETTINGS.sessionSeenMax };
}

/** Tells, for each of `itemIds`, whether the result of `sessionSeenSetRequest` lists it. */
export function seenFlagsAmong(result: ReadResult | undefined, itemIds: readonly string[]): boolean[] {
  const members = result?.kind === 'zsetMembers' ? result.value : [];
  const flags = new Array<boolean>(itemIds.length).fill(false);
  if (members.length === 0) {
    return flags;
  }
  const seen = new Set(members);
  for (let index = 0; index < itemIds.length; index++) {
    flags[index] = seen.has(itemIds[index] as string);
  }
  return flags;
}

/** Tells, for each of `count` items of a `sessionSeenRequest`, whether the session has seen it. */
export function seenFlagsOf(result: ReadResult | undefined, count: number): boolean[] {
  const scores = result?.kind === 'zsetScores' ? result.value : [];
  const flags = new Array<boolean>(count);
  for (let index = 0; index < count; index++) {
    const score = scores[index];
    flags[index] = score !== undefined && score !== null;
  }
  return flags;
}

function parsePriors(fields: Record<string, string>, nowMs: number): GlobalPriors {
  const counts = decayHash(fields, nowMs);
  const impressions = counts.get(GLOBAL_FIELDS.impressions) ?? 0;
  const plays = counts.get(GLOBAL_FIELDS.plays) ?? 0;
  // Until enough is counted, the priors stay at their defaults: 100 impressions or plays is an
  // estimate, chosen so that a handful of early events cannot swing every item's rate.
  return {
    tapRate: impressions >= 100 ? (counts.get(GLOBAL_FIELDS.taps) ?? 0) / impressions : DEFAULT_PRIORS.tapRate,
    completionRate: plays >= 100 ? (counts.get(GLOBAL_FIELDS.completes) ?? 0) / plays : DEFAULT_PRIORS.completionRate,
  };
}

/** Decays every `name@halfLife` field of a hash to `nowMs`, keyed by the full field name. */
function decayHash(fields: Record<string, string>, nowMs: number): Map<string, number> {
  const result = new Map<string, number>();
  const landmarkMs = Number(fields[LANDMARK_FIELD]);
  if (!Number.isFinite(landmarkMs)) {
    return result;
  }
  // The fields of one hash share a few half-lives (one for affinities, four for the global
  // counters), so the divisor is computed again only when the half-life changes.
  let divisorHalfLifeMs = Number.NaN;
  let divisor = 1;
  for (const [field, text] of Object.entries(fields)) {
    const halfLifeMs = halfLifeOfField(field);
    if (halfLifeMs !== undefined) {
      if (halfLifeMs !== divisorHalfLifeMs) {
        divisorHalfLifeMs = halfLifeMs;
        divisor = decayDivisor(landmarkMs, nowMs, halfLifeMs);
      }
      result.set(field, Number(text) / divisor);
    }
  }
  return result;
}

/** Splits `category:<id>@h` and `creator:<id>@h` fields into two maps keyed by the bare id. */
function splitAffinity(decayed: Map<string, number>): { categories: Map<string, number>; creators: Map<string, number> } {
  const categories = new Map<string, number>();
  const creators = new Map<string, number>();
  for (const [field, value] of decayed) {
    const name = field.slice(0, field.lastIndexOf('@'));
    if (name.startsWith('category:')) {
      categories.set(name.slice('category:'.length), value);
    } else if (name.startsWith('creator:')) {
      creators.set(name.slice('creator:'.length), value);
    }
  }
  return { categories, creators };
}

function optionalNumber(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

function hashValue(result: ReadResult | undefined): Record<string, string> {
  return result?.kind === 'hash' ? result.value : {};
}

function listValue(result: ReadResult | undefined): string[] {
  return result?.kind === 'list' ? result.value : [];
}

/**
 * Sets by the member array they were built from. The memory store returns the same array for a
 * sorted set until the set changes. The evaluation points of a replay therefore build a user's set
 * of up to 2,000 items once per change instead of once per point. A Redis reply is a new array
 * each time and is only looked up. Results are read-only, so an array never changes after it was
 * read.
 */
const memberSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function memberSetOf(result: ReadResult | undefined): ReadonlySet<string> {
  const members = zsetMembers(result);
  let set = memberSets.get(members);
  if (set === undefined) {
    set = new Set(members);
    memberSets.set(members, set);
  }
  return set;
}

/** Returns the set of `members` that have a score in `result`, a `zsetScores` read of them. */
function membersWithScores(result: ReadResult | undefined, members: readonly string[]): ReadonlySet<string> {
  const found = new Set<string>();
  if (result?.kind === 'zsetScores') {
    for (let index = 0; index < members.length; index++) {
      if (result.value[index] !== null && result.value[index] !== undefined) {
        found.add(members[index] as string);
      }
    }
  }
  return found;
}

function zsetMembers(result: ReadResult | undefined): readonly string[] {
  return result?.kind === 'zsetMembers' ? result.value : [];
}
