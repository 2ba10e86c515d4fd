import type { CatalogItem, InteractionType } from '@nexttap/events';
import { keys } from './keys';
import { halfLifeOfField, LANDMARK_FIELD, type ReadRequest, type ReadResult } from './operations';
import { ITEM_FIELDS } from './plan';
import { readDecayed } from './decay';
import { FEATURE_SETTINGS } from './settings';

/** One entry of a session's recent items, newest first. */
export interface RecentEntry {
  itemId: string;
  type: InteractionType;
  tMs: number;
}

/** What the ranker knows of a session at one instant; decayed values are read at that instant. */
export interface SessionSnapshot {
  sessionId: string;
  recent: RecentEntry[];
  /** Category affinity decayed to the read time; negative after skips and hides. */
  categoryAffinity: Map<string, number>;
  /** Items with any engagement other than an impression. */
  interacted: Set<string>;
  events: number;
  lastTs: number | undefined;
}

export interface UserSnapshot {
  userId: string;
  categoryAffinity: Map<string, number>;
  interacted: Set<string>;
}

/** Item counters decayed to the read time, and the catalog record when the item is known. */
export interface ItemSnapshot {
  itemId: string;
  catalog: CatalogItem | undefined;
  positiveShort: number;
  positiveLong: number;
  impressions: number;
  taps: number;
  likes: number;
  interactions: number;
}

const RECENT_LIMIT = FEATURE_SETTINGS.sessionRecentMax;

/** Builds the reads of a session (and its user, when given); answer them with `parseSessionReads`. */
export function sessionReadRequests(sessionId: string, userId: string | undefined): ReadRequest[] {
  const requests: ReadRequest[] = [
    { kind: 'list', key: keys.sessionRecent(sessionId), limit: RECENT_LIMIT },
    { kind: 'hash', key: keys.sessionCategories(sessionId) },
    { kind: 'zsetTop', key: keys.sessionInteracted(sessionId), limit: FEATURE_SETTINGS.sessionInteractedMax },
    { kind: 'hash', key: keys.sessionMeta(sessionId) },
  ];
  if (userId !== undefined) {
    requests.push(
      { kind: 'hash', key: keys.userCategories(userId) },
      { kind: 'zsetTop', key: keys.userInteracted(userId), limit: FEATURE_SETTINGS.userInteractedMax },
    );
  }
  return requests;
}

/** Parses the answers to `sessionReadRequests`, decaying affinities to `nowMs`. */
export function parseSessionReads(
  sessionId: string,
  userId: string | undefined,
  results: readonly ReadResult[],
  nowMs: number,
): { session: SessionSnapshot; user: UserSnapshot | undefined } {
  const [recent, categories, interacted, meta, userCategories, userInteracted] = results;
  const metaFields = hashValue(meta);
  const session: SessionSnapshot = {
    sessionId,
    recent: listValue(recent).flatMap(decodeRecent),
    categoryAffinity: decayHash(hashValue(categories), nowMs, 'name'),
    interacted: new Set(zsetMembers(interacted)),
    events: Number(metaFields.events ?? 0),
    lastTs: metaFields.lastTs === undefined ? undefined : Number(metaFields.lastTs),
  };
  const user =
    userId === undefined
      ? undefined
      : { userId, categoryAffinity: decayHash(hashValue(userCategories), nowMs, 'name'), interacted: new Set(zsetMembers(userInteracted)) };
  return { session, user };
}

/** Builds the reads of the items' counters and catalog records: two requests, one round trip. */
export function itemReadRequests(itemIds: readonly string[]): ReadRequest[] {
  return [
    { kind: 'hashes', keys: itemIds.map((itemId) => keys.itemStats(itemId)) },
    { kind: 'strings', keys: itemIds.map((itemId) => keys.itemCatalog(itemId)) },
  ];
}

/** Parses the answers to `itemReadRequests`, decaying counters to `nowMs`. */
export function parseItemReads(itemIds: readonly string[], results: readonly ReadResult[], nowMs: number): ItemSnapshot[] {
  const [stats, catalogs] = results;
  const statsValues = stats?.kind === 'hashes' ? stats.value : [];
  const catalogValues = catalogs?.kind === 'strings' ? catalogs.value : [];
  return itemIds.map((itemId, index) => {
    const counters = decayHash(statsValues[index] ?? {}, nowMs, 'field');
    const catalogText = catalogValues[index];
    return {
      itemId,
      catalog: catalogText ? (JSON.parse(catalogText) as CatalogItem) : undefined,
      positiveShort: counters.get(ITEM_FIELDS.positiveShort) ?? 0,
      positiveLong: counters.get(ITEM_FIELDS.positiveLong) ?? 0,
      impressions: counters.get(ITEM_FIELDS.impressions) ?? 0,
      taps: counters.get(ITEM_FIELDS.taps) ?? 0,
      likes: counters.get(ITEM_FIELDS.likes) ?? 0,
      interactions: counters.get(ITEM_FIELDS.interactions) ?? 0,
    };
  });
}

/**
 * Decays every `name@halfLife` field of a hash to `nowMs`. Item counters keep the full field name,
 * because one item has several half-lives of one counter; affinity hashes drop the suffix.
 */
function decayHash(fields: Record<string, string>, nowMs: number, naming: 'field' | 'name'): Map<string, number> {
  const result = new Map<string, number>();
  const landmarkMs = Number(fields[LANDMARK_FIELD]);
  if (!Number.isFinite(landmarkMs)) {
    return result;
  }
  for (const [field, text] of Object.entries(fields)) {
    const halfLifeMs = halfLifeOfField(field);
    if (halfLifeMs === undefined) {
      continue;
    }
    const value = readDecayed(Number(text), landmarkMs, nowMs, halfLifeMs);
    result.set(naming === 'field' ? field : field.slice(0, field.lastIndexOf('@')), value);
  }
  return result;
}

function decodeRecent(text: string): RecentEntry[] {
  const first = text.indexOf('|');
  const second = text.indexOf('|', first + 1);
  if (first < 0 || second < 0) {
    return [];
  }
  return [{ type: text.slice(0, first) as InteractionType, tMs: Number(text.slice(first + 1, second)), itemId: text.slice(second + 1) }];
}

function hashValue(result: ReadResult | undefined): Record<string, string> {
  return result?.kind === 'hash' ? result.value : {};
}

function listValue(result: ReadResult | undefined): string[] {
  return result?.kind === 'list' ? result.value : [];
}

function zsetMembers(result: ReadResult | undefined): string[] {
  return result?.kind === 'zsetTop' ? result.value.map((entry) => entry.member) : [];
}
