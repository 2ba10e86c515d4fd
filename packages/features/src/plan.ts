import { INTERACTION_TYPES, type CatalogItem, type Interaction } from '@nexttap/events';
import { keys } from './keys';
import { decayedField, type PlannedWrite, type WriteOperation } from './operations';
import { encodeRecent, type RecentEntry } from './recent';
import { AFFINITY_WEIGHTS, FEATURE_SETTINGS, NEGATIVE_TYPES, POSITIVE_TYPES, SHORT_DWELL_MS } from './settings';

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
 * `context` the session's recent events before this one (co-visitation links need them).
 */
export function planInteraction(event: Interaction, item: CatalogItem | undefined, context: PlanContext = { recent: [] }): PlannedWrite {
  // Each step appends to one array, because a batch plans about 40 operations per event and
  // concatenating per-step arrays copied every operation list once more.
  const operations: WriteOperation[] = [];
  planSessionWrites(operations, event, item);
  planUserWrites(operations, event, item);
  planItemWrites(operations, event, item);
  planCovisitWrites(operations, event, context.recent);
  return { dedupKey: keys.dedup(event.sessionId, event.eventId), dedupTtlMs: settings.dedupTtlMs, operations };
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
    // A new item joins its category pools with a zero score, so a session that likes the category
    // can see it before anyone has engaged with it.
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

function planSessionWrites(operations: WriteOperation[], event: Interaction, item: CatalogItem | undefined): void {
  const { sessionId } = event;
  const metaKey = keys.sessionMeta(sessionId);
  operations.push(
    { op: 'listPush', key: keys.sessionRecent(sessionId), value: encodeRecent(event), maxLength: settings.sessionRecentMax },
    { op: 'hashIncrement', key: metaKey, field: 'events', amount: 1 },
    { op: 'hashMax', key: metaKey, field: 'lastTs', value: event.ts },
  );
  if (isPositive(event)) {
    operations.push({ op: 'hashMax', key: metaKey, field: 'lastPositiveTs', value: event.ts });
  }
  const seenOrInteracted = event.type === 'impression' ? keys.sessionSeen(sessionId) : keys.sessionInteracted(sessionId);
  const maxMembers = event.type === 'impression' ? settings.sessionSeenMax : settings.sessionInteractedMax;
  operations.push({ op: 'zsetAdd', key: seenOrInteracted, member: event.itemId, score: event.ts, mode: 'max', maxMembers });
  planAffinity(operations, keys.sessionAffinity(sessionId), event, item, settings.sessionHalfLifeMs);
  for (const key of [keys.sessionRecent(sessionId), metaKey, seenOrInteracted, keys.sessionAffinity(sessionId)]) {
    operations.push({ op: 'expire', key, ttlMs: settings.sessionTtlMs });
  }
}

function planUserWrites(operations: WriteOperation[], event: Interaction, item: CatalogItem | undefined): void {
  if (event.userId === undefined) {
    return;
  }
  const affinityKey = keys.userAffinity(event.userId);
  const interactedKey = keys.userInteracted(event.userId);
  planAffinity(operations, affinityKey, event, item, settings.userHalfLifeMs);
  if (event.type !== 'impression') {
    operations.push({ op: 'zsetAdd', key: interactedKey, member: event.itemId, score: event.ts, mode: 'max', maxMembers: settings.userInteractedMax });
  }
  operations.push({ op: 'expire', key: affinityKey, ttlMs: settings.userTtlMs });
  operations.push({ op: 'expire', key: interactedKey, ttlMs: settings.userTtlMs });
}

function planItemWrites(operations: WriteOperation[], event: Interaction, item: CatalogItem | undefined): void {
  const statsKey = keys.itemStats(event.itemId);
  const typeFields = TYPE_FIELDS.get(event.type) as { hour: string; day: string };
  operations.push(decayAdd(statsKey, typeFields.hour, 1, event), decayAdd(statsKey, typeFields.day, 1, event));
  if (event.dwellMs !== undefined) {
    operations.push(decayAdd(statsKey, ITEM_FIELDS.dwellSecondsDay, event.dwellMs / 1000, event), decayAdd(statsKey, ITEM_FIELDS.dwellCountDay, 1, event));
  }
  if (GLOBAL_FIELD_SET.has(typeFields.day)) {
    operations.push(decayAdd(keys.globalStats(), typeFields.day, 1, event));
  }
  if (isPositive(event)) {
    for (const field of POSITIVE_ITEM_FIELDS) {
      operations.push(decayAdd(statsKey, field, 1, event));
    }
    operations.push(poolAdd(keys.poolPopular(), event, settings.itemWeekHalfLifeMs, settings.poolPopularMax));
    operations.push(poolAdd(keys.poolTrending(), event, settings.itemHourHalfLifeMs, settings.poolPopularMax));
    for (const category of item?.categories ?? []) {
      operations.push(poolAdd(keys.poolCategory(category), event, settings.itemWeekHalfLifeMs, settings.poolCategoryMax));
    }
  }
  operations.push({ op: 'hashSnapshot', key: statsKey, snapshotKey: keys.itemSnapshot(event.itemId), fields: ITEM_STAT_FIELDS });
  operations.push({ op: 'expire', key: statsKey, ttlMs: settings.itemStatsTtlMs });
  operations.push({ op: 'expire', key: keys.itemSnapshot(event.itemId), ttlMs: settings.itemStatsTtlMs });
}

function decayAdd(key: string, field: string, weight: number, event: Interaction): WriteOperation {
  return { op: 'hashDecayAdd', key, field, weight, tMs: event.ts };
}

/**
 * Links the items this session engaged with in the last 30 minutes to the item engaged with now:
 * each earlier item's neighbour list gains this item, so a ranker can propose what people engaged
 * with next.
 */
function planCovisitWrites(operations: WriteOperation[], event: Interaction, recent: readonly RecentEntry[]): void {
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
    const covisitKey = keys.itemCovisit(source);
    operations.push(
      {
        op: 'zsetDecayAdd',
        key: covisitKey,
        member: event.itemId,
        weight: 1,
        tMs: event.ts,
        halfLifeMs: settings.covisitHalfLifeMs,
        maxMembers: settings.covisitMaxNeighbours,
      },
      { op: 'expire', key: covisitKey, ttlMs: settings.itemStatsTtlMs },
      { op: 'expire', key: keys.itemCovisitLandmark(source), ttlMs: settings.itemStatsTtlMs },
    );
  }
}

function planAffinity(operations: WriteOperation[], key: string, event: Interaction, item: CatalogItem | undefined, halfLifeMs: number): void {
  const weight = affinityWeight(event);
  if (weight === 0 || item === undefined) {
    return;
  }
  // An item in several categories spreads its weight over them, so a multi-genre item does not
  // count more than a single-genre one.
  const share = item.categories.length === 0 ? 0 : weight / item.categories.length;
  for (const category of item.categories) {
    operations.push({ op: 'hashDecayAdd', key, field: affinityField('category', category, halfLifeMs), weight: share, tMs: event.ts });
  }
  if (item.creatorId !== undefined) {
    operations.push({ op: 'hashDecayAdd', key, field: affinityField('creator', item.creatorId, halfLifeMs), weight, tMs: event.ts });
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

function poolAdd(key: string, event: Interaction, halfLifeMs: number, maxMembers: number): WriteOperation {
  return { op: 'zsetDecayAdd', key, member: event.itemId, weight: 1, tMs: event.ts, halfLifeMs, maxMembers };
}

/** Tells whether an event counts against an item: a skip, a hide, or a play or tap under 3 s. */
export function isNegative(event: Pick<Interaction, 'type' | 'dwellMs'>): boolean {
  return NEGATIVE_TYPES.has(event.type) || isShortEngagement(event);
}
