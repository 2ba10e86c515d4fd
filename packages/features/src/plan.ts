import { INTERACTION_TYPES, type CatalogItem, type Interaction } from '@nexttap/events';
import { keys } from './keys';
import { decayedField, OperationList, sendOperation, type PlannedWrite, type WriteOperation, type WriteSink } from './operations';
import { encodeRecent, type RecentEntry } from './recent';
import { AFFINITY_WEIGHTS, COVISIT_SCORE_SCALE, FEATURE_SETTINGS, NEGATIVE_TYPES, POSITIVE_TYPES, SHORT_DWELL_MS } from './settings';

const settings = FEATURE_SETTINGS;

/** Hash fields of an item's stats; each name carries its half-life. */
export const ITEM_FIELDS = {
  positiveMinutes: decayedField('positive', settings.itemMinutesHalfLifeMs),
  positiveHour: decayedField('positive', settings.itemHourHalfLifeMs),
  positiveDay: decayedField('positive', settings.itemDayHalfLifeMs),
  positiveWeek: decayedField('positive', settings.itemWeekHalfLifeMs),
  dwellSecondsDay: decayedField('dwell-seconds', settings.itemDayHalfLifeMs),
  dwellCountDay: decayedField('dwell-count', settings.itemDayHalfLifeMs),
} as const;

/**
 * Field names of the per-type counts, built once. Readers look these fields up for every
 * candidate, and V8 caches a string's hash on the string, so a reused name is not hashed again.
 */
const ITEM_TYPE_FIELDS = {
  hour: new Map(INTERACTION_TYPES.map((type) => [type, decayedField(`type:${type}`, settings.itemHourHalfLifeMs)])),
  day: new Map(INTERACTION_TYPES.map((type) => [type, decayedField(`type:${type}`, settings.itemDayHalfLifeMs)])),
};

/** Field of an item's decayed count of one event type, at the hour or day half-life. */
export function itemTypeField(type: Interaction['type'], halfLife: 'hour' | 'day'): string {
  return ITEM_TYPE_FIELDS[halfLife].get(type) ?? decayedField(`type:${type}`, halfLife === 'hour' ? settings.itemHourHalfLifeMs : settings.itemDayHalfLifeMs);
}

/** `itemTypeField` of every type, built once: planning needs two of them per event. */
const TYPE_FIELDS = new Map(INTERACTION_TYPES.map((type) => [type, { hour: itemTypeField(type, 'hour'), day: itemTypeField(type, 'day') }]));

/** Every item stat field, in the order of the packed snapshot after its landmark. */
export const ITEM_STAT_FIELDS: readonly string[] = [
  ...Object.values(ITEM_FIELDS),
  ...INTERACTION_TYPES.flatMap((type) => [itemTypeField(type, 'hour'), itemTypeField(type, 'day')]),
];

/** Fields of the global counters, the priors of the smoothed rates. */
export const GLOBAL_FIELDS = {
  impressions: itemTypeField('impression', 'day'),
  taps: itemTypeField('tap', 'day'),
  plays: itemTypeField('play', 'day'),
  completes: itemTypeField('complete', 'day'),
} as const;

const GLOBAL_FIELD_SET: ReadonlySet<string> = new Set(Object.values(GLOBAL_FIELDS));

const POSITIVE_ITEM_FIELDS = [ITEM_FIELDS.positiveMinutes, ITEM_FIELDS.positiveHour, ITEM_FIELDS.positiveDay, ITEM_FIELDS.positiveWeek];

/** State of the session that planning needs: its recent events, newest first. */
export interface PlanContext {
  recent: readonly RecentEntry[];
}

/**
 * Plans the writes of one interaction. `item` is the catalog record of its item, when known, and
 * `context` the session's recent events before this one (co-visitation links need them). The
 * operations are built only when a caller reads `operations`, because `aggregateWrites` plans them
 * straight into its batch through `planInto`. The write keeps `event`, `item` and `context.recent`
 * and reads them when it is merged, so a caller must not change them after planning.
 */
export function planInteraction(event: Interaction, item: CatalogItem | undefined, context: PlanContext = { recent: [] }): PlannedWrite {
  return new InteractionWrite(event, item, context.recent);
}

/** Sends the writes of one interaction to `sink`; see `planInteraction`. */
export function planInteractionInto(sink: WriteSink, event: Interaction, item: CatalogItem | undefined, recent: readonly RecentEntry[]): void {
  planSessionWrites(sink, event, item);
  planUserWrites(sink, event, item);
  planItemWrites(sink, event);
  planCovisitWrites(sink, event, recent);
}

/**
 * The planned write of one interaction. The event fields are private (`#`), so that spreading the
 * write into a new object, as key prefixing does, copies the dedup key but not the plan.
 */
class InteractionWrite implements PlannedWrite {
  readonly dedupKey: string;
  readonly dedupTtlMs: number = settings.dedupTtlMs;
  readonly #event: Interaction;
  readonly #item: CatalogItem | undefined;
  readonly #recent: readonly RecentEntry[];
  #operations: WriteOperation[] | undefined;

  constructor(event: Interaction, item: CatalogItem | undefined, recent: readonly RecentEntry[]) {
    this.dedupKey = keys.dedup(event.sessionId, event.eventId);
    this.#event = event;
    this.#item = item;
    this.#recent = recent;
  }

  /** The operations as objects, built on first use. A caller may change the array, and `planInto` then sends the changed one. */
  get operations(): WriteOperation[] {
    if (this.#operations === undefined) {
      const list = new OperationList();
      planInteractionInto(list, this.#event, this.#item, this.#recent);
      this.#operations = list.operations;
    }
    return this.#operations;
  }

  planInto(sink: WriteSink): void {
    if (this.#operations === undefined) {
      planInteractionInto(sink, this.#event, this.#item, this.#recent);
    } else {
      for (const operation of this.#operations) {
        sendOperation(sink, operation);
      }
    }
  }
}


/** Plans the writes of one catalog record: safe to repeat, so it carries no dedup key. */
export function planCatalogItem(item: CatalogItem): PlannedWrite {
  const operations: WriteOperation[] = [{ op: 'stringSet', key: keys.itemCatalog(item.itemId), value: JSON.stringify(item) }];
  if (item.publishedAt !== undefined) {
    operations.push({ op: 'zsetAdd', key: keys.poolFresh(), member: item.itemId, score: item.publishedAt, mode: 'set', maxMembers: settings.poolFreshMax });
  }
  if (item.live === true) {
    operations.push({ op: 'zsetAdd', key: keys.poolLive(), member: item.itemId, score: item.publishedAt ?? 0, mode: 'set', maxMembers: settings.poolLiveMax });
  }
  for (const category of item.categories) {
    operations.push({ op: 'zsetAdd', key: keys.poolCategoryNames(), member: category, score: 0, mode: 'nx', maxMembers: settings.poolCategoryNamesMax });
    // The category pools list the category's items, each with score 0: engagement is ranked by
    // the popular pool when the pools are read. A new item can therefore be proposed to a session
    // that likes the category before anyone has engaged with it.
    operations.push({ op: 'zsetAdd', key: keys.poolCategory(category), member: item.itemId, score: 0, mode: 'nx', maxMembers: settings.poolCategoryMax });
  }
  return { operations };
}

/** Returns the affinity weight of an event, counting a play or tap shorter than 3 s as a skip. */
export function affinityWeight(event: Pick<Interaction, 'type' | 'dwellMs'>): number {
  if (isShortEngagement(event)) {
    return AFFINITY_WEIGHTS.skip;
  }
  return AFFINITY_WEIGHTS[event.type];
}

/** Tells whether an event is a play or tap with a dwell under 3 s, which counts as a skip. */
export function isShortEngagement(event: Pick<Interaction, 'type' | 'dwellMs'>): boolean {
  return event.dwellMs !== undefined && event.dwellMs < SHORT_DWELL_MS && (event.type === 'play' || event.type === 'tap');
}

/** Tells whether an event counts as engagement: a positive type that was not cut short. */
export function isPositive(event: Pick<Interaction, 'type' | 'dwellMs'>): boolean {
  return POSITIVE_TYPES.has(event.type) && !isShortEngagement(event);
}

function planSessionWrites(sink: WriteSink, event: Interaction, item: CatalogItem | undefined): void {
  const sessionKeys = keys.session(event.sessionId);
  const recentKey = sessionKeys.recent;
  const metaKey = sessionKeys.meta;
  const affinityKey = sessionKeys.affinity;
  sink.listPush(recentKey, encodeRecent(event), settings.sessionRecentMax);
  sink.hashIncrement(metaKey, 'events', 1);
  sink.hashMax(metaKey, 'lastTs', event.ts);
  if (isPositive(event)) {
    sink.hashMax(metaKey, 'lastPositiveTs', event.ts);
  }
  const seenOrInteracted = event.type === 'impression' ? sessionKeys.seen : sessionKeys.interacted;
  const maxMembers = event.type === 'impression' ? settings.sessionSeenMax : settings.sessionInteractedMax;
  sink.zsetAdd(seenOrInteracted, event.itemId, event.ts, 'max', maxMembers);
  planAffinity(sink, affinityKey, event, item, settings.sessionHalfLifeMs);
  sink.expire(recentKey, settings.sessionTtlMs);
  sink.expire(metaKey, settings.sessionTtlMs);
  sink.expire(seenOrInteracted, settings.sessionTtlMs);
  sink.expire(affinityKey, settings.sessionTtlMs);
}

function planUserWrites(sink: WriteSink, event: Interaction, item: CatalogItem | undefined): void {
  if (event.userId === undefined) {
    return;
  }
  const userKeys = keys.user(event.userId);
  const affinityKey = userKeys.affinity;
  const interactedKey = userKeys.interacted;
  planAffinity(sink, affinityKey, event, item, settings.userHalfLifeMs);
  if (event.type !== 'impression') {
    sink.zsetAdd(interactedKey, event.itemId, event.ts, 'max', settings.userInteractedMax);
  }
  sink.expire(affinityKey, settings.userTtlMs);
  sink.expire(interactedKey, settings.userTtlMs);
}

function planItemWrites(sink: WriteSink, event: Interaction): void {
  const snapshotKey = keys.itemSnapshot(event.itemId);
  const typeFields = TYPE_FIELDS.get(event.type) as { hour: string; day: string };
  sink.packedDecayAdd(snapshotKey, ITEM_STAT_FIELDS, typeFields.hour, 1, event.ts);
  sink.packedDecayAdd(snapshotKey, ITEM_STAT_FIELDS, typeFields.day, 1, event.ts);
  if (event.dwellMs !== undefined) {
    sink.packedDecayAdd(snapshotKey, ITEM_STAT_FIELDS, ITEM_FIELDS.dwellSecondsDay, event.dwellMs / 1000, event.ts);
    sink.packedDecayAdd(snapshotKey, ITEM_STAT_FIELDS, ITEM_FIELDS.dwellCountDay, 1, event.ts);
  }
  if (GLOBAL_FIELD_SET.has(typeFields.day)) {
    sink.hashDecayAdd(keys.globalStats(), typeFields.day, 1, event.ts);
  }
  if (isPositive(event)) {
    for (const field of POSITIVE_ITEM_FIELDS) {
      sink.packedDecayAdd(snapshotKey, ITEM_STAT_FIELDS, field, 1, event.ts);
    }
    sink.zsetDecayAdd(keys.poolPopular(), event.itemId, 1, event.ts, settings.itemWeekHalfLifeMs, settings.poolPopularMax);
    sink.zsetDecayAdd(keys.poolTrending(), event.itemId, 1, event.ts, settings.itemHourHalfLifeMs, settings.poolPopularMax);
    // No category pool is written here: the pool cache ranks a category's items by the popular
    // pool, which contains the same decayed counts.
  }
  sink.expire(snapshotKey, settings.itemStatsTtlMs);
}

/**
 * Links the items this session engaged with in the last 30 minutes to the item engaged with now:
 * each earlier item's neighbour list gains this item, so a ranker can propose what people engaged
 * with next.
 */
function planCovisitWrites(sink: WriteSink, event: Interaction, recent: readonly RecentEntry[]): void {
  if (!isPositive(event)) {
    return;
  }
  const sources: string[] = [];
  for (const entry of recent) {
    if (event.ts - entry.tMs > settings.covisitWindowMs || sources.length === settings.covisitSources) {
      break;
    }
    if (isPositive(entry) && entry.itemId !== event.itemId && !sources.includes(entry.itemId)) {
      sources.push(entry.itemId);
    }
  }
  for (const source of sources) {
    const sourceKeys = keys.item(source);
    sink.zsetDecayAdd(sourceKeys.covisit, event.itemId, 1, event.ts, settings.covisitHalfLifeMs, settings.covisitMaxNeighbours, COVISIT_SCORE_SCALE);
    sink.expire(sourceKeys.covisit, settings.itemStatsTtlMs);
    sink.expire(sourceKeys.covisitLandmark, settings.itemStatsTtlMs);
  }
}

function planAffinity(sink: WriteSink, key: string, event: Interaction, item: CatalogItem | undefined, halfLifeMs: number): void {
  const weight = affinityWeight(event);
  if (weight === 0 || item === undefined) {
    return;
  }
  // An item in several categories spreads its weight over them, so a multi-genre item does not
  // count more than a single-genre one.
  const share = item.categories.length === 0 ? 0 : weight / item.categories.length;
  for (const category of item.categories) {
    sink.hashDecayAdd(key, affinityField('category', category, halfLifeMs), share, event.ts);
  }
  if (item.creatorId !== undefined) {
    sink.hashDecayAdd(key, affinityField('creator', item.creatorId, halfLifeMs), weight, event.ts);
  }
}

/**
 * Affinity field names by half-life, kind and id, built once each: every event needs a few. The
 * half-life comes first so that finding a name builds no string.
 */
const affinityFields = new Map<number, { category: Map<string, string>; creator: Map<string, string> }>();
/** Bound of each name map: creator ids are open-ended, so a map starts over at this size. */
const AFFINITY_FIELD_CACHE_MAX = 100_000;

function affinityField(kind: 'category' | 'creator', id: string, halfLifeMs: number): string {
  let byKind = affinityFields.get(halfLifeMs);
  if (byKind === undefined) {
    byKind = { category: new Map(), creator: new Map() };
    affinityFields.set(halfLifeMs, byKind);
  }
  const names = byKind[kind];
  let field = names.get(id);
  if (field === undefined) {
    field = decayedField(`${kind}:${id}`, halfLifeMs);
    if (names.size >= AFFINITY_FIELD_CACHE_MAX) {
      names.clear();
    }
    names.set(id, field);
  }
  return field;
}

/** Tells whether an event counts against an item: a skip, a hide, or a play or tap under 3 s. */
export function isNegative(event: Pick<Interaction, 'type' | 'dwellMs'>): boolean {
  return NEGATIVE_TYPES.has(event.type) || isShortEngagement(event);
}
