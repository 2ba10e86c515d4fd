import type { CatalogItem, Interaction } from '@nexttap/events';
import type { FeatureStore } from './feature-store';
import { keys } from './keys';
import { planCatalogItem, planInteraction } from './plan';
import { decodeRecent, toRecentEntry, type RecentEntry } from './recent';
import { parseCatalogText } from './snapshots';
import { FEATURE_SETTINGS } from './settings';

/**
 * Applies interactions to a feature store: reads what planning needs (the items' catalog records
 * and the sessions' recent events) in one round trip, plans each event in order, with the recent
 * events of earlier events in the batch, and applies the batch. Ingest, seeding, training and
 * replay all write features through this function, so they compute the same state. Returns, per
 * event, whether it was applied (false for a repeated eventId).
 */
export async function applyInteractions(store: FeatureStore, events: readonly Interaction[]): Promise<boolean[]> {
  if (events.length === 0) {
    return [];
  }
  const itemIds = [...new Set(events.map((event) => event.itemId))];
  const sessionIds = [...new Set(events.map((event) => event.sessionId))];
  const results = await store.read([
    { kind: 'strings', keys: itemIds.map((itemId) => keys.itemCatalog(itemId)) },
    ...sessionIds.map((sessionId) => ({ kind: 'list' as const, key: keys.sessionRecent(sessionId), limit: FEATURE_SETTINGS.sessionRecentMax })),
  ]);
  const catalog = parseCatalogRecords(itemIds, results[0]?.kind === 'strings' ? results[0].value : []);
  const earliestTsBySession = new Map<string, number>();
  for (const event of events) {
    earliestTsBySession.set(event.sessionId, Math.min(earliestTsBySession.get(event.sessionId) ?? event.ts, event.ts));
  }
  const recentBySession = new Map<string, RecentEntry[]>();
  sessionIds.forEach((sessionId, index) => {
    const result = results[index + 1];
    const texts = result?.kind === 'list' ? result.value : [];
    recentBySession.set(sessionId, decodeUsableRecent(texts, earliestTsBySession.get(sessionId) as number));
  });

  const writes = events.map((event) => {
    const recent = recentBySession.get(event.sessionId) ?? [];
    const write = planInteraction(event, catalog.get(event.itemId), { recent });
    // A later event of the same session in this batch sees this one as recent, as it would if the
    // events had come one at a time.
    recentBySession.set(event.sessionId, prependRecent(toRecentEntry(event), recent));
    return write;
  });
  return store.apply(writes);
}

/**
 * Decodes a session's stored recent events, newest first, up to the first one that is older than
 * the co-visitation window for `earliestTsMs`, the session's earliest event in the batch. Planning
 * reads recent events only for co-visitation, and its scan stops at the first entry outside the
 * event's window. That entry is outside the window of every event of the batch at or after
 * `earliestTsMs`, so no scan passes it, and the entries after it need not be decoded.
 */
function decodeUsableRecent(texts: readonly string[], earliestTsMs: number): RecentEntry[] {
  const entries: RecentEntry[] = [];
  for (const text of texts) {
    const entry = decodeRecent(text);
    if (entry === undefined) {
      continue;
    }
    entries.push(entry);
    if (earliestTsMs - entry.tMs > FEATURE_SETTINGS.covisitWindowMs) {
      break;
    }
  }
  return entries;
}

/** Returns a new list of `entry` followed by `recent`, cut to the stored length, with one array allocated. */
function prependRecent(entry: RecentEntry, recent: readonly RecentEntry[]): RecentEntry[] {
  const length = Math.min(recent.length + 1, FEATURE_SETTINGS.sessionRecentMax);
  const next = new Array<RecentEntry>(length);
  next[0] = entry;
  for (let index = 1; index < length; index++) {
    next[index] = recent[index - 1] as RecentEntry;
  }
  return next;
}

/** Applies catalog records; safe to repeat. */
export async function applyCatalogItems(store: FeatureStore, items: readonly CatalogItem[]): Promise<void> {
  if (items.length > 0) {
    await store.apply(items.map((item) => planCatalogItem(item)));
  }
}

/** Reads the catalog records of items in one round trip; unknown items are absent from the map. */
export async function readCatalogRecords(store: FeatureStore, itemIds: readonly string[]): Promise<Map<string, CatalogItem>> {
  const unique = [...new Set(itemIds)];
  const [result] = await store.read([{ kind: 'strings', keys: unique.map((itemId) => keys.itemCatalog(itemId)) }]);
  return parseCatalogRecords(unique, result?.kind === 'strings' ? result.value : []);
}

function parseCatalogRecords(itemIds: readonly string[], values: ReadonlyArray<string | null>): Map<string, CatalogItem> {
  const catalog = new Map<string, CatalogItem>();
  itemIds.forEach((itemId, index) => {
    const text = values[index];
    if (text) {
      catalog.set(itemId, parseCatalogText(text));
    }
  });
  return catalog;
}
