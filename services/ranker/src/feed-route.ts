import { randomUUID } from 'node:crypto';
import { parseBody } from '@nexttap/http';
import type { RankingModel } from '@nexttap/model';
import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '@nexttap/observability';
import { rankFeed, type CandidateLimits, type PoolCache } from '@nexttap/rank';
import type { FeatureStore } from '@nexttap/store';
import type { FastifyInstance } from 'fastify';
import { rankerError } from './errors';
import { feedRequestSchema } from './feed-request';

export interface FeedRouteDependencies {
  store: FeatureStore;
  pools: PoolCache;
  /** Returns the model that serves now, or undefined before one is loaded. */
  currentModel(): RankingModel | undefined;
  candidateLimits: CandidateLimits;
  metrics: Registry;
  clock?: () => number;
}

/** Registers `POST /v1/feed`: ranks a feed for a session. */
export function registerFeedRoute(instance: FastifyInstance, dependencies: FeedRouteDependencies): void {
  const clock = dependencies.clock ?? Date.now;
  const latency = new Histogram({
    name: 'nexttap_feed_duration_seconds',
    help: 'Time to rank one feed, from parsed request to response body, in seconds',
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [dependencies.metrics],
  });
  const fallbacks = new Counter({
    name: 'nexttap_feed_heuristic_fallback_total',
    help: 'Feeds in which a non-finite model score was replaced by the heuristic score',
    registers: [dependencies.metrics],
  });

  instance.post('/v1/feed', async (request) => {
    const body = parseBody(feedRequestSchema, request.body, 'RANKER_ERR_INVALID_REQUEST');
    const model = dependencies.currentModel();
    if (model === undefined) {
      throw rankerError('RANKER_ERR_NOT_READY', 'no model is loaded yet; retry shortly', { headers: { 'retry-after': '1' } });
    }
    const modelLabel = `${model.manifest.name}/${model.manifest.version}`;
    const stopTimer = latency.startTimer({ model: modelLabel });
    let feed;
    try {
      feed = await rankFeed(
        { sessionId: body.sessionId, userId: body.userId, limit: body.limit, candidates: body.candidates, exclude: body.exclude },
        { store: dependencies.store, model, pools: dependencies.pools.current, nowMs: clock(), limits: dependencies.candidateLimits },
      );
    } catch (error) {
      request.log.error({ err: error, sessionId: body.sessionId }, 'feed ranking failed');
      throw rankerError('RANKER_ERR_STORE_UNAVAILABLE', 'the feature store did not answer; retry shortly', {
        headers: { 'retry-after': '1' },
        cause: error,
      });
    }
    if (feed.heuristicFallback) {
      fallbacks.inc();
    }
    stopTimer();
    return {
      feedId: randomUUID(),
      model: { name: model.manifest.name, version: model.manifest.version },
      items: feed.items.map((item, position) => ({
        itemId: item.itemId,
        position,
        score: item.score,
        sources: item.sources,
        ...(item.known ? {} : { unknown: true }),
      })),
      candidateCount: feed.candidateCount,
      ...(feed.heuristicFallback ? { degraded: { reason: 'model returned a non-finite score; heuristic scores were used' } } : {}),
    };
  });
}
