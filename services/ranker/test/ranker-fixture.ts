import { validateCatalogItem, validateInteraction, type CatalogItemInput, type InteractionInput } from '@nexttap/events';
import { applyCatalogItems, applyInteractions, type FeatureStore } from '@nexttap/features';
import { createLogger, createMetricsRegistry } from '@nexttap/observability';
import { seededRandom } from '@nexttap/rank';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { Ranker, rankerConfigSchema } from '../src/index';

export const logger = createLogger({ level: 'silent', service: 'ranker-test' });

let eventCount = 0;

/** Writes catalog records through the same planning code as ingest. */
export async function writeCatalog(store: FeatureStore, inputs: readonly CatalogItemInput[]): Promise<void> {
  const items = inputs.map((input) => {
    const result = validateCatalogItem(input);
    if (!result.ok) throw new Error(result.rejection.message);
    return result.value;
  });
  await applyCatalogItems(store, items);
}

/** Writes interactions through the same planning code as ingest; unset fields get test defaults. */
export async function writeEvents(store: FeatureStore, nowMs: number, events: ReadonlyArray<Partial<InteractionInput>>): Promise<void> {
  const valid = events.map((partial) => {
    const raw = { eventId: `fixture-${eventCount++}`, type: 'tap', ts: nowMs - 60_000, sessionId: 'crowd', itemId: 'unknown', ...partial };
    const result = validateInteraction(raw, { nowMs });
    if (!result.ok) throw new Error(result.rejection.message);
    return result.value;
  });
  await applyInteractions(store, valid);
}

export interface RankerApp {
  app: FastifyInstance;
  ranker: Ranker;
  metrics: Registry;
  close(): Promise<void>;
}

/**
 * Starts a ranker with its routes on a fastify instance (not listening; use `inject`) over `store`.
 * `environment` contains ranker settings by config key, as strings, as environment variables are.
 */
export async function startRanker(store: FeatureStore, modelDir: string, nowMs: () => number, environment: Record<string, string> = {}): Promise<RankerApp> {
  // Tests that are not about the store budget get one no loaded CI machine runs out of: with the
  // default of 25 ms, a slow read served a degraded feed from the pool copy and broke rule checks.
  const config = rankerConfigSchema.parse({ modelDir, feedStoreBudgetMs: '2000', ...environment });
  const metrics = createMetricsRegistry();
  const ranker = new Ranker({ config, store, logger, metrics, clock: nowMs, random: seededRandom(7) });
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
  await ranker.register(app);
  await ranker.start();
  return {
    app,
    ranker,
    metrics,
    close: async () => {
      await app.close();
      await ranker.stop();
    },
  };
}
