import { randomUUID } from 'node:crypto';
import type { RankingModel } from '@nexttap/model';
import {
  planServedFeed,
  rankFeed,
  rankNextPage,
  ServedFeedNotFoundError,
  StoreBudget,
  type CandidateLimits,
  type FeedItem,
  type FeedQuery,
  type FeedRuleSettings,
  type PoolCache,
  type RankContext,
  type RankedFeed,
} from '@nexttap/rank';
import type { FeatureStore } from '@nexttap/store';
import type { FastifyBaseLogger } from 'fastify';
import type { RankerConfig } from './config';
import { encodeCursor, type FeedCursor } from './cursor';
import { rankerError } from './errors';
import type { FeedMetrics, FeedKind } from './feed-metrics';
import type { FeedResponse, FeedResponseItem } from './feed-request';

/** Variant reported while one model serves all traffic. */
export const DEFAULT_VARIANT = 'default';

export interface FeedServiceDependencies {
  config: RankerConfig;
  store: FeatureStore;
  pools: PoolCache;
  /** Returns the model that serves now, or undefined before one is loaded. */
  currentModel(): RankingModel | undefined;
  candidateLimits: CandidateLimits;
  rules: FeedRuleSettings;
  metrics: FeedMetrics;
  clock: () => number;
  random?: () => number;
}

export interface ServeOptions {
  kind: FeedKind;
  cursor?: FeedCursor | undefined;
  includeCatalog: boolean;
  /** Logger of the request, which carries its request id. */
  log: FastifyBaseLogger;
}

/**
 * Serves feeds for the POST route and the live feed: ranks or pages, records the served feed for
 * paging and attribution without delaying the response, counts degraded feeds, and builds the
 * response body.
 */
export class FeedService {
  private lastDegradedReason: string | undefined;
  private recordFailing = false;

  constructor(private readonly dependencies: FeedServiceDependencies) {}

  async serve(query: FeedQuery, options: ServeOptions): Promise<FeedResponse> {
    const model = this.dependencies.currentModel();
    if (model === undefined) {
      throw rankerError('RANKER_ERR_NOT_READY', 'no model is loaded yet; retry shortly', { headers: { 'retry-after': '1' } });
    }
    const modelName = `${model.manifest.name}/${model.manifest.version}`;
    const stopTimer = this.dependencies.metrics.duration.startTimer({ model: modelName, kind: options.kind });
    const context = this.rankContext(model, options.kind);
    const { feed, feedId, offset } = await this.rank(query, context, options.cursor);
    this.noteDegradation(feed, query.sessionId, options.log);
    if (feed.degraded?.reason !== 'store-timeout' && feed.degraded?.reason !== 'store-unavailable') {
      this.recordServed(query.sessionId, feedId, offset, feed, modelName, options);
    }
    const response = this.buildResponse(feedId, offset, feed, model, query.explain === true, options.includeCatalog);
    stopTimer();
    return response;
  }

  private rankContext(model: RankingModel, kind: FeedKind): RankContext {
    const { config, metrics } = this.dependencies;
    return {
      store: this.dependencies.store,
      model,
      pools: this.dependencies.pools.current,
      nowMs: this.dependencies.clock(),
      limits: this.dependencies.candidateLimits,
      rules: this.dependencies.rules,
      budget: new StoreBudget(config.feedStoreBudgetMs),
      rankingDepth: config.rankingDepth,
      ...(this.dependencies.random === undefined ? {} : { random: this.dependencies.random }),
      ...(kind === 'first-page' ? { observeStage: (stage, seconds) => metrics.observeStage(stage, seconds) } : {}),
    };
  }

  private async rank(query: FeedQuery, context: RankContext, cursor: FeedCursor | undefined): Promise<{ feed: RankedFeed; feedId: string; offset: number }> {
    if (cursor === undefined) {
      return { feed: await rankFeed(query, context), feedId: randomUUID(), offset: 0 };
    }
    try {
      const feed = await rankNextPage({ ...query, feedId: cursor.feedId, offset: cursor.offset }, context);
      return { feed, feedId: cursor.feedId, offset: cursor.offset };
    } catch (error) {
      if (error instanceof ServedFeedNotFoundError) {
        throw rankerError('RANKER_ERR_CURSOR_EXPIRED', `${error.message}; request a first page without a cursor`, { field: 'cursor', cause: error });
      }
      throw error;
    }
  }

  /** Counts every degraded feed; logs when degradation starts, changes reason or ends. */
  private noteDegradation(feed: RankedFeed, sessionId: string, log: FastifyBaseLogger): void {
    const reason = feed.degraded?.reason;
    if (reason !== undefined) {
      this.dependencies.metrics.countDegraded(reason);
    }
    if (reason === this.lastDegradedReason) {
      return;
    }
    if (reason === undefined) {
      log.info({ previousReason: this.lastDegradedReason, sessionId }, 'feeds no longer degraded');
    } else {
      log.warn({ err: feed.degraded?.cause, reason, sessionId }, 'feed degraded');
    }
    this.lastDegradedReason = reason;
  }

  /**
   * Writes the served page (and, for a first page, the ranking and model) without awaiting it. The
   * ranker's store client sends commands in order on one connection, so a later page request reads
   * after this write. A failed write costs paging and attribution, not the response.
   */
  private recordServed(sessionId: string, feedId: string, offset: number, feed: RankedFeed, modelName: string, options: ServeOptions): void {
    const { config, metrics } = this.dependencies;
    const write = planServedFeed({
      sessionId,
      feedId,
      offset,
      servedItemIds: feed.items.map((item) => item.itemId),
      ...(options.cursor === undefined
        ? { first: { model: modelName, variant: DEFAULT_VARIANT, createdAtMs: this.dependencies.clock(), ranking: feed.ranking } }
        : {}),
      countAsServed: options.kind !== 'live',
      ttlMs: config.servedFeedTtlMs,
      servedHistoryLength: config.dropServedFeeds,
    });
    this.dependencies.store.apply([write]).then(
      () => {
        if (this.recordFailing) {
          this.recordFailing = false;
          options.log.info({ sessionId }, 'served feed records written again');
        }
      },
      (error: unknown) => {
        metrics.recordFailures.inc();
        if (!this.recordFailing) {
          this.recordFailing = true;
          options.log.warn({ err: error, sessionId, feedId }, 'served feed record failed; paging and attribution of this feed are lost');
        }
      },
    );
  }

  private buildResponse(feedId: string, offset: number, feed: RankedFeed, model: RankingModel, explain: boolean, includeCatalog: boolean): FeedResponse {
    const items = feed.items.map((item, index) => toResponseItem(item, offset + index, explain, includeCatalog));
    const hasMore = feed.nextOffset !== undefined && feed.ranking.length > 0;
    return {
      feedId,
      model: { name: model.manifest.name, version: model.manifest.version, variant: DEFAULT_VARIANT },
      items,
      candidateCount: feed.candidateCount,
      ...(hasMore ? { nextCursor: encodeCursor({ feedId, offset: feed.nextOffset as number }) } : {}),
      ...(feed.degraded === undefined ? {} : { degraded: { reason: feed.degraded.reason, message: feed.degraded.message } }),
    };
  }
}

function toResponseItem(item: FeedItem, position: number, explain: boolean, includeCatalog: boolean): FeedResponseItem {
  const catalog = item.catalog;
  return {
    itemId: item.itemId,
    position,
    score: item.score,
    sources: item.sources,
    ...(item.known ? {} : { unknown: true as const }),
    ...(includeCatalog && catalog !== undefined
      ? {
          catalog: {
            ...(catalog.title === undefined ? {} : { title: catalog.title }),
            categories: catalog.categories,
            ...(catalog.creatorId === undefined ? {} : { creatorId: catalog.creatorId }),
            ...(catalog.kind === undefined ? {} : { kind: catalog.kind }),
            ...(catalog.live === undefined ? {} : { live: catalog.live }),
          },
        }
      : {}),
    ...(explain ? { explanation: { sources: item.sources, rules: item.rules, features: item.contributions ?? [] } } : {}),
  };
}
