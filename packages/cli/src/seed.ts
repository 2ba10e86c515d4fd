import { applyCatalogItems, applyInteractions } from '@nexttap/features';
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
  await applyCatalogItems(store, catalog);
  const events = await readMovieLensEvents(directory, { shiftToMs: nowMs - 60_000 });
  for (let start = 0; start < events.length; start += SEED_CHUNK) {
    await applyInteractions(store, events.slice(start, start + SEED_CHUNK));
  }
  logger.info({ items: catalog.length, events: events.length, durationMs: Date.now() - startedMs }, 'movielens history loaded');
  return { items: catalog.length, events: events.length };
}
