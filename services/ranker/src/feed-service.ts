import { randomUUID } from 'node:crypto';
import { planFeedServed, type RankingModel, type SharedModel } from '@nexttap/model';
import {
  CursorOffsetError,
  CursorUserMismatchError,
  planServedFeed,
  servedFeedKeys,
  rankFeed,
  rankNextPage,
  ServedFeedNotFoundError,
  StoreBudget,
  type CandidateLimits,
  type FeedItem,
  type FeedQuery,
  type FeedRuleSettings,
  type ItemCache,
  type PoolCache,
  type RankContext,
  type RankedFeed,
} from '@nexttap/rank';
import type { FastifyBaseLogger } from 'fastify';
import type { RankerConfig } from './config';
import { encodeCursor, type FeedCursor } from './cursor';
import { rankerError } from './errors';
import type { FeedMetrics, FeedKind } from './feed-metrics';
import type { FeedResponse, FeedResponseItem } from './feed-request';
import type { ModelLease } from './model-manager';
import type { ShadowScorer } from './shadow-scoring';
import type { WriteBehindStore } from './write-behind-store';

/** The models a feed can be served with; `ModelManager` implements it. */
export interface ModelSource {
  /** Acquires the model for one request by its assignment unit (userId, else sessionId), or undefined before one is loaded. */
  acquire(unitId: string): ModelLease | undefined;
  /** Acquires the shadow model, or returns undefined when none is set. */
  acquireShadow(): SharedModel | undefined;
}

export interface FeedServiceDependencies {
  config: RankerConfig;
  /** The ranker's store; served-feed records are queued on it and sent together once per event-loop turn. */
  store: WriteBehindStore;
  pools: PoolCache;
  /** In-process copy of item features shared by every request; without it each request reads every candidate. */
  itemCache?: ItemCache;
  models: ModelSource;
  /** Scores feeds with the shadow model, when one is set, after the response. */
  shadow?: ShadowScorer;
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
    const lease = this.dependencies.models.acquire(query.userId ?? query.sessionId);
    if (lease === undefined) {
      throw rankerError('RANKER_ERR_NOT_READY', 'no model is loaded yet; retry shortly', { headers: { 'retry-after': '1' } });
    }
    const shadow = this.beginShadow(lease.model);
    try {
      return await this.serveWith(query, options, lease, shadow?.model ?? lease.model);
    } finally {
      // The shadow run is queued before the lease ends, and neither waits for the other.
      shadow?.finish();
      lease.release();
    }
  }

  private beginShadow(serving: RankingModel) {
    const shadowScorer = this.dependencies.shadow;
    if (shadowScorer === undefined) {
      return undefined;
    }
    const shadowModel = this.dependencies.models.acquireShadow();
    return shadowModel === undefined ? undefined : shadowScorer.begin(serving, shadowModel);
  }

  private async serveWith(query: FeedQuery, options: ServeOptions, lease: ModelLease, model: RankingModel): Promise<FeedResponse> {
    // name@version, the form of the admin API, the CLI and the shadow metrics' label.
    const modelName = `${lease.model.manifest.name}@${lease.model.manifest.version}`;
    const stopTimer = this.dependencies.metrics.duration.startTimer({ model: modelName, kind: options.kind });
    const context = this.rankContext(model, options.kind);
    const { feed, feedId, offset } = await this.rank(query, context, options.cursor);
    this.noteDegradation(feed, query.sessionId, options.log);
    if (feed.degraded?.reason !== 'store-timeout' && feed.degraded?.reason !== 'store-unavailable') {
      this.recordServed(query, feedId, offset, feed, modelName, lease, options);
    }
    const response = this.buildResponse(feedId, offset, feed, lease, query.explain === true, options.includeCatalog);
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
      ...(this.dependencies.itemCache === undefined ? {} : { itemCache: this.dependencies.itemCache }),
      ...(this.dependencies.random === undefined ? {} : { random: this.dependencies.random }),
      ...(kind === 'first-page' ? { observeStage: (stage, seconds) => metrics.observeStage(stage, seconds) } : {}),
    };
  }

  private async rank(query: FeedQuery, context: RankContext, cursor: FeedCursor | undefined): Promise<{ feed: RankedFeed; feedId: string; offset: number }> {
    if (cursor === undefined) {
      return { feed: await rankFeed(query, context), feedId: randomUUID(), offset: 0 };
    }
    try {
      const feed = await rankNextPage(Object.assign({}, query, { feedId: cursor.feedId, offset: cursor.offset }), context);
      return { feed, feedId: cursor.feedId, offset: cursor.offset };
    } catch (error) {
      if (error instanceof ServedFeedNotFoundError) {
        throw rankerError('RANKER_ERR_CURSOR_EXPIRED', `${error.message}; request a first page without a cursor`, { field: 'cursor', cause: error });
      }
      if (error instanceof CursorOffsetError) {
        throw rankerError('RANKER_ERR_INVALID_CURSOR', `${error.message}, so it is not a cursor this ranker issued; send the nextCursor of the previous page unchanged`, {
          field: 'cursor',
          cause: error,
        });
      }
      if (error instanceof CursorUserMismatchError) {
        throw rankerError('RANKER_ERR_INVALID_REQUEST', error.message, { field: 'userId', cause: error });
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
   * Queues the write of the served page (and, for a first page, the ranking and model) without
   * awaiting it. The store sends queued writes before any later read, on one connection in call
   * order, so a later page request reads after this write. A failed write costs paging and
   * attribution, not the response.
   */
  private recordServed(query: FeedQuery, feedId: string, offset: number, feed: RankedFeed, modelName: string, lease: ModelLease, options: ServeOptions): void {
    const { config, metrics } = this.dependencies;
    const sessionId = query.sessionId;
    const write = planServedFeed({
      sessionId,
      feedId,
      offset,
      servedItemIds: feed.items.map((item) => item.itemId),
      ...(options.cursor === undefined
        ? { first: { model: modelName, variant: lease.variant, createdAtMs: this.dependencies.clock(), userId: query.userId, ranking: feed.ranking } }
        : {}),
      countAsServed: options.kind !== 'live',
      ttlMs: config.servedFeedTtlMs,
      servedHistoryLength: config.dropServedFeeds,
    });
    const writes = [write];
    if (lease.experimentId !== undefined && options.cursor === undefined) {
      // Ingest reads the experiment id from the feed's record to attribute the feed's events.
      write.operations.push({ op: 'hashSet', key: servedFeedKeys.feed(sessionId, feedId), field: 'experiment', value: lease.experimentId });
      if (options.kind !== 'live') {
        writes.push(planFeedServed(lease.experimentId, lease.variant));
      }
    }
    this.dependencies.store.applyLater(writes).then(
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

  private buildResponse(feedId: string, offset: number, feed: RankedFeed, lease: ModelLease, explain: boolean, includeCatalog: boolean): FeedResponse {
    const { manifest } = lease.model;
    const items = feed.items.map((item, index) => toResponseItem(item, offset + index, explain, includeCatalog));
    const hasMore = feed.nextOffset !== undefined && feed.ranking.length > 0;
    return {
      feedId,
      model: { name: manifest.name, version: manifest.version, variant: lease.variant },
      items,
      candidateCount: feed.candidateCount,
      ...(hasMore ? { nextCursor: encodeCursor({ feedId, offset: feed.nextOffset as number }) } : {}),
      ...(feed.degraded === undefined ? {} : { degraded: { reason: feed.degraded.reason, message: feed.degraded.message } }),
    };
  }
}

function toResponseItem(item: FeedItem, position: number, explain: boolean, includeCatalog: boolean): FeedResponseItem {
  // Fields are assigned in the response's key order rather than spread from conditional objects,
  // which cost an object and a copy each for every item of every feed.
  const response: FeedResponseItem = { itemId: item.itemId, position, score: item.score, sources: item.sources };
  if (!item.known) {
    response.unknown = true;
  }
  const catalog = item.catalog;
  if (includeCatalog && catalog !== undefined) {
    response.catalog = {
      ...(catalog.title === undefined ? {} : { title: catalog.title }),
      categories: catalog.categories,
      ...(catalog.creatorId === undefined ? {} : { creatorId: catalog.creatorId }),
      ...(catalog.kind === undefined ? {} : { kind: catalog.kind }),
      ...(catalog.live === undefined ? {} : { live: catalog.live }),
    };
  }
  if (explain) {
    response.explanation = { sources: item.sources, rules: item.rules, features: item.contributions ?? [] };
  }
  return response;
}
