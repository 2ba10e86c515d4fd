import { installErrorHandler } from '@nexttap/http';
import { loadRankingModel, type RankingModel } from '@nexttap/model';
import type { Logger, Registry } from '@nexttap/observability';
import { DEFAULT_CANDIDATE_LIMITS, PoolCache } from '@nexttap/rank';
import type { FeatureStore } from '@nexttap/store';
import type { FastifyInstance } from 'fastify';
import type { RankerConfig } from './config';
import { RANKER_HTTP_CODES } from './errors';
import { registerFeedRoute } from './feed-route';
import { PoolRefresher } from './pool-refresher';

export interface RankerDependencies {
  config: RankerConfig;
  store: FeatureStore;
  logger: Logger;
  metrics: Registry;
  clock?: () => number;
}

/**
 * The ranker role: loads the model, keeps the candidate pools fresh and serves feeds. The process
 * owns the HTTP server; this registers the routes into it.
 */
export class Ranker {
  private model: RankingModel | undefined;
  readonly pools: PoolCache;
  private readonly refresher: PoolRefresher;

  constructor(private readonly dependencies: RankerDependencies) {
    this.pools = new PoolCache(dependencies.store, { poolDepth: dependencies.config.poolDepth });
    this.refresher = new PoolRefresher(this.pools, dependencies.config.poolRefreshIntervalMs, dependencies.logger, dependencies.clock);
  }

  /** Registers the feed route with the ranker's error catalogue into its own route scope. */
  async register(instance: FastifyInstance): Promise<void> {
    await instance.register(async (scope) => {
      installErrorHandler(scope, RANKER_HTTP_CODES);
      registerFeedRoute(scope, {
        store: this.dependencies.store,
        pools: this.pools,
        currentModel: () => this.model,
        candidateLimits: { ...DEFAULT_CANDIDATE_LIMITS, total: this.dependencies.config.maxCandidates },
        metrics: this.dependencies.metrics,
        ...(this.dependencies.clock === undefined ? {} : { clock: this.dependencies.clock }),
      });
    });
  }

  /** Loads and validates the model, then reads the pools once; rejects if either fails. */
  async start(): Promise<void> {
    const { config, logger } = this.dependencies;
    this.model = await loadRankingModel(config.modelDir, { intraOpThreads: config.modelIntraOpThreads });
    logger.info(
      { model: this.model.manifest.name, version: this.model.manifest.version, features: this.model.features.length },
      'model loaded',
    );
    await this.refresher.start();
  }

  get currentModel(): RankingModel | undefined {
    return this.model;
  }

  async stop(): Promise<void> {
    await this.refresher.stop();
    await this.model?.release();
    this.model = undefined;
  }
}
