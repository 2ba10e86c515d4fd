import type { CatalogItem, Interaction } from '@nexttap/events';
import { keys } from './keys';
import { decayedField, type PlannedWrite, type WriteOperation } from './operations';
import { AFFINITY_WEIGHTS, FEATURE_SETTINGS, POSITIVE_TYPES, SHORT_DWELL_MS } from './settings';

/** Hash fields of an item's stats; each name carries its half-life. */
export const ITEM_FIELDS = {
  positiveShort: decayedField('positive', FEATURE_SETTINGS.itemShortHalfLifeMs),
  positiveLong: decayedField('positive', FEATURE_SETTINGS.itemLongHalfLifeMs),
  impressions: decayedField('impression', FEATURE_SETTINGS.itemLongHalfLifeMs),
  taps: decayedField('tap', FEATURE_SETTINGS.itemLongHalfLifeMs),
  likes: decayedField('like', FEATURE_SETTINGS.itemLongHalfLifeMs),
  interactions: decayedField('interaction', FEATURE_SETTINGS.itemLongHalfLifeMs),
} as const;

/** Plans the writes of one interaction. `item` is the catalog record of its item, when known. */
export function planInteraction(event: Interaction, item: CatalogItem | undefined): PlannedWrite {
  const operations: WriteOperation[] = [
    ...planSessionWrites(event, item),
    ...planUserWrites(event, item),
    ...planItemWrites(event, item),
  ];
  return {
    dedupKey: keys.dedup(event.sessionId, event.eventId),
    dedupTtlMs: FEATURE_SETTINGS.dedupTtlMs,
    operations,
  };
}

/** Plans the writes of one catalog record: safe to repeat, so it carries no dedup key. */
export function planCatalogItem(item: CatalogItem): PlannedWrite {
  const operations: WriteOperation[] = [{ op: 'stringSet', key: keys.itemCatalog(item.itemId), value: JSON.stringify(item) }];
  if (item.publishedAt !== undefined) {
    operations.push({
      op: 'zsetAdd',
      key: keys.poolFresh(),
      member: item.itemId,
      score: item.publishedAt,
      mode: 'set',
      maxMembers: FEATURE_SETTINGS.poolFreshMax,
    });
  }
  for (const category of item.categories) {
    operations.push({
      op: 'zsetAdd',
      key: keys.poolCategoryNames(),
      member: category,
      score: 0,
      mode: 'nx',
      maxMembers: FEATURE_SETTINGS.poolCategoryNamesMax,
    });
    // A new item joins its category pools with a zero score, so a session that likes the category
    // can see it before anyone has engaged with it.
    operations.push({
      op: 'zsetAdd',
      key: keys.poolCategory(category),
      member: item.itemId,
      score: 0,
      mode: 'nx',
      maxMembers: FEATURE_SETTINGS.poolCategoryMax,
    });
  }
  return { operations };
}

/** Returns the affinity weight of an event, counting a play or tap shorter than 3 s as a skip. */
export function affinityWeight(event: Interaction): number {
  const isShort = event.dwellMs !== undefined && event.dwellMs < SHORT_DWELL_MS;
  if (isShort && (event.type === 'play' || event.type === 'tap')) {
    return AFFINITY_WEIGHTS.skip;
  }
  return AFFINITY_WEIGHTS[event.type];
}

function planSessionWrites(event: Interaction, item: CatalogItem | undefined): WriteOperation[] {
  const settings = FEATURE_SETTINGS;
  const metaKey = keys.sessionMeta(event.sessionId);
  const operations: WriteOperation[] = [
    { op: 'listPush', key: keys.sessionRecent(event.sessionId), value: encodeRecent(event), maxLength: settings.sessionRecentMax },
    { op: 'hashIncrement', key: metaKey, field: 'events', amount: 1 },
    { op: 'hashMax', key: metaKey, field: 'lastTs', value: event.ts },
  ];
  if (event.type !== 'impression') {
    operations.push({
      op: 'zsetAdd',
      key: keys.sessionInteracted(event.sessionId),
      member: event.itemId,
      score: event.ts,
      mode: 'max',
      maxMembers: settings.sessionInteractedMax,
    });
  }
  operations.push(...planAffinity(keys.sessionCategories(event.sessionId), event, item, settings.sessionHalfLifeMs));
  const sessionKeys = [
    keys.sessionRecent(event.sessionId),
    metaKey,
    keys.sessionInteracted(event.sessionId),
    keys.sessionCategories(event.sessionId),
  ];
  for (const key of sessionKeys) {
    operations.push({ op: 'expire', key, ttlMs: settings.sessionTtlMs });
  }
  return operations;
}

function planUserWrites(event: Interaction, item: CatalogItem | undefined): WriteOperation[] {
  if (event.userId === undefined) {
    return [];
  }
  const settings = FEATURE_SETTINGS;
  const categoriesKey = keys.userCategories(event.userId);
  const interactedKey = keys.userInteracted(event.userId);
  const operations = planAffinity(categoriesKey, event, item, settings.userHalfLifeMs);
  if (event.type !== 'impression') {
    operations.push({
      op: 'zsetAdd',
      key: interactedKey,
      member: event.itemId,
      score: event.ts,
      mode: 'max',
      maxMembers: settings.userInteractedMax,
    });
  }
  operations.push({ op: 'expire', key: categoriesKey, ttlMs: settings.userTtlMs });
  operations.push({ op: 'expire', key: interactedKey, ttlMs: settings.userTtlMs });
  return operations;
}

function planItemWrites(event: Interaction, item: CatalogItem | undefined): WriteOperation[] {
  const settings = FEATURE_SETTINGS;
  const statsKey = keys.itemStats(event.itemId);
  const add = (field: string): WriteOperation => ({ op: 'hashDecayAdd', key: statsKey, field, weight: 1, tMs: event.ts });
  const operations: WriteOperation[] = [add(ITEM_FIELDS.interactions)];
  if (event.type === 'impression') {
    operations.push(add(ITEM_FIELDS.impressions));
  }
  if (event.type === 'tap') {
    operations.push(add(ITEM_FIELDS.taps));
  }
  if (event.type === 'like') {
    operations.push(add(ITEM_FIELDS.likes));
  }
  if (POSITIVE_TYPES.has(event.type)) {
    operations.push(add(ITEM_FIELDS.positiveShort), add(ITEM_FIELDS.positiveLong));
    operations.push(poolAdd(keys.poolPopular(), event, settings.itemLongHalfLifeMs, settings.poolPopularMax));
    operations.push(poolAdd(keys.poolTrending(), event, settings.itemShortHalfLifeMs, settings.poolPopularMax));
    for (const category of item?.categories ?? []) {
      operations.push(poolAdd(keys.poolCategory(category), event, settings.itemLongHalfLifeMs, settings.poolCategoryMax));
    }
  }
  operations.push({ op: 'expire', key: statsKey, ttlMs: settings.itemStatsTtlMs });
  return operations;
}

function planAffinity(key: string, event: Interaction, item: CatalogItem | undefined, halfLifeMs: number): WriteOperation[] {
  const weight = affinityWeight(event);
  if (weight === 0 || item === undefined || item.categories.length === 0) {
    return [];
  }
  // An item in several categories spreads its weight over them, so a multi-genre item does not
  // count more than a single-genre one.
  const share = weight / item.categories.length;
  return item.categories.map((category) => ({
    op: 'hashDecayAdd' as const,
    key,
    field: decayedField(category, halfLifeMs),
    weight: share,
    tMs: event.ts,
  }));
}

function poolAdd(key: string, event: Interaction, halfLifeMs: number, maxMembers: number): WriteOperation {
  return { op: 'zsetDecayAdd', key, member: event.itemId, weight: 1, tMs: event.ts, halfLifeMs, maxMembers };
}

/** Encodes a recent-item entry as `type|ts|itemId`; the item id goes last because it may contain `|`. */
export function encodeRecent(event: Interaction): string {
  return `${event.type}|${event.ts}|${event.itemId}`;
}
