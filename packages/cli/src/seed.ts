import { planCatalogItem, planInteraction } from '@nexttap/features';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import type { Logger } from '@nexttap/observability';
import type { FeatureStore } from '@nexttap/store';

/** Writes applied per store call while seeding: large enough to amortise a round trip, small enough to yield. */
const SEED_CHUNK = 2_000;

/**
 * Loads the MovieLens catalog and rating history straight into the feature store, shifted so the
 * last rating happened one minute before `nowMs`. Decayed features depend only on time differences,
 * so the shift keeps them as they were and makes the history look recent to the ranker's clock.
 * Seeding writes the store directly rather than through the bus, because it is a bulk load.
 */
export async function seedMovieLens(store: FeatureStore, directory: string, nowMs: number, logger: Logger): Promise<{ items: number; events: number }> {
  const startedMs = Date.now();
  const catalog = await readMovieLensCatalog(directory);
  await applyInChunks(store, catalog.map((item) => planCatalogItem(item)));
  const events = await readMovieLensEvents(directory, { shiftToMs: nowMs - 60_000 });
  const byItem = new Map(catalog.map((item) => [item.itemId, item]));
  await applyInChunks(store, events.map((event) => planInteraction(event, byItem.get(event.itemId))));
  logger.info({ items: catalog.length, events: events.length, durationMs: Date.now() - startedMs }, 'movielens history loaded');
  return { items: catalog.length, events: events.length };
}

async function applyInChunks(store: FeatureStore, writes: Parameters<FeatureStore['apply']>[0]): Promise<void> {
  for (let start = 0; start < writes.length; start += SEED_CHUNK) {
    await store.apply(writes.slice(start, start + SEED_CHUNK));
  }
}
