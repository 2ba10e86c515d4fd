import type { Interaction } from '@nexttap/events';
import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { loadRankingModel } from '@nexttap/model';
import { PoolCache, rankFeed, readSession } from '@nexttap/rank';
import { MemoryFeatureStore } from '@nexttap/store';
import { describe, expect, it } from 'vitest';
import { createRandom, hashText, modelRanker, PointEvaluator } from '../src/index';
import { MODEL_DIR, movieLensSlice } from './fixtures';

const SEED = 7;

describe('PointEvaluator', () => {
  it('ranks as rankFeed does, feed rules included', async () => {
    const input = await movieLensSlice(4_000);
    const events = input.events;
    let clockMs = (events[0] as Interaction).ts;
    const store = new MemoryFeatureStore({ now: () => clockMs, sweepIntervalMs: 0 });
    const model = await loadRankingModel(MODEL_DIR);
    try {
      await applyCatalogItems(store, input.catalog);
      clockMs = (events.at(-1) as Interaction).ts;
      await applyInteractions(store, events);
      const pools = new PoolCache(store);
      await pools.refresh(clockMs);
      const evaluator = new PointEvaluator(store, pools, [modelRanker(model)], { protocol: 'full', seed: SEED });

      const sessions = [...new Map(events.slice(-400).map((event) => [event.sessionId, event])).values()].slice(0, 20);
      let compared = 0;
      for (const { sessionId, userId } of sessions) {
        const key = `${sessionId}\tprobe`;
        const { session, user } = await readSession(store, sessionId, userId, clockMs);
        const ranking = await evaluator.rank({ key, session, user, nowMs: clockMs, targetItemId: undefined, depth: 200 });
        const feed = await rankFeed(
          { sessionId, userId, limit: 20, dropServed: false },
          { store, model, pools: pools.current, nowMs: clockMs, random: createRandom(hashText(key, SEED)) },
        );
        expect(ranking.results[0]?.top, sessionId).toEqual(feed.ranking.map((entry) => entry.itemId));
        compared += feed.ranking.length;
      }
      expect(compared).toBeGreaterThan(1_000);
    } finally {
      await model.release();
      await store.close();
    }
  });
});
