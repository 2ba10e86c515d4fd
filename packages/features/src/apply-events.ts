import type { CatalogItem, Interaction } from '@nexttap/events';
import type { FeatureStore } from './feature-store';
import { keys } from './keys';
import { planCatalogItem, planInteraction } from './plan';

/**
 * Applies interactions to a feature store: reads what planning needs (the items' catalog records)
 * in one round trip, plans each event in order and applies the batch. Ingest, seeding, training
 * and replay all write features through this function, so they compute the same state. Returns,
 * per event, whether it was applied (false for a repeated eventId).
 */
export async function applyInteractions(store: FeatureStore, events: readonly Interaction[]): Promise<boolean[]> {
  if (events.length === 0) {
    return [];
  }
  const catalog = await readCatalogRecords(store, events.map((event) => event.itemId));
  return store.apply(events.map((event) => planInteraction(event, catalog.get(event.itemId))));
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
  const values = result?.kind === 'strings' ? result.value : [];
  const catalog = new Map<string, CatalogItem>();
  unique.forEach((itemId, index) => {
    const text = values[index];
    if (text) {
      catalog.set(itemId, JSON.parse(text) as CatalogItem);
    }
  });
  return catalog;
}
