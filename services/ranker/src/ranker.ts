import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { installErrorHandler } from '@nexttap/http';
import { ModelRegistry, type RankingModel } from '@nexttap/model';
import type { Logger, Registry } from '@nexttap/observability';
import { DEFAULT_CANDIDATE_LIMITS, ItemCache, PoolCache, type FeedRuleSettings } from '@nexttap/rank';
import type { FeatureStore } from '@nexttap/store';
import type { FastifyInstance } from 'fastify';
import type { RankerConfig } from './config';
import { registerDemoPage } from './demo-route';
import { RANKER_HTTP_CODES } from './errors';
import { FeedMetrics } from './feed-metrics';
import { registerFeedRoute } from './feed-route';
import { FeedService } from './feed-service';
import { LiveFeedHub } from './live-feed';
import { registerAdminRoutes } from './admin-routes';
import { ModelManager } from './model-manager';
import { ShadowScorer } from './shadow-scoring';
import { registerOpenApiRoutes, type OpenApiAddition } from './openapi';
import { PoolRefresher } from './pool-refresher';
import type { ChangeNotices } from './change-notices';
import { WriteBehindStore } from './write-behind-store';

export interface RankerDependencies {
  config: RankerConfig;
  store: FeatureStore;
  logger: Logger;
  metrics: Registry;
  clock?: () => number;
  /**
   * Ingest's change notices: session notices trigger live feed pushes, item notices drop changed
   * items from the item cache. Without them live feeds push only on connect, and cached items are
   * read again only after ITEM_CACHE_MAX_AGE_MS.
   */
  changeNotices?: ChangeNotices;
  /** Uniform random numbers in [0, 1) for exploration; tests pass a seeded generator. */
  random?: () => number;
}

/** Reads the feed rule settings out of the ranker's config. */
export function feedRulesOf(config: RankerConfig): FeedRuleSettings {
  return {
    dropInteracted: config.dropInteracted,
    dropServedFeeds: config.dropServedFeeds,
    diversityWindow: config.diversityWindow,
    diversityMaxPerCategory: config.diversityMaxPerCategory,
    diversityMaxPerCreator: config.diversityMaxPerCreator,
    explorationPosition: config.explorationPosition,
    explorationMaxImpressions: config.explorationMaxImpressions,
    explorationFreshMs: config.explorationFreshMs,
    liveBoostPositions: config.liveBoostPositions,
  };
}

/**
 * The ranker role: loads the model, keeps the candidate pools fresh and serves feeds, live feeds and
 * the OpenAPI document. The process owns the HTTP server; this registers the routes into it.
 */
export class Ranker {
  readonly models: ModelManager;
  readonly shadow: ShadowScorer;
  readonly pools: PoolCache;
  readonly live: LiveFeedHub;
  private readonly service: FeedService;
  private readonly refresher: PoolRefresher;
  /** The store every part of the ranker reads through, so that each read follows the queued feed records. */
  private readonly store: WriteBehindStore;
  private readonly itemCache: ItemCache;
  private readonly unsubscribes: Array<() => Promise<void>> = [];
  private modelLoading: Promise<void> | undefined;

  constructor(private readonly dependencies: RankerDependencies) {
    const { config } = dependencies;
    this.store = new WriteBehindStore(dependencies.store);
    this.pools = new PoolCache(this.store, { poolDepth: config.poolDepth, popularMaxAgeMs: config.poolPopularMaxAgeMs });
    this.refresher = new PoolRefresher(this.pools, config.poolRefreshIntervalMs, dependencies.logger, dependencies.clock);
    const metrics = new FeedMetrics(dependencies.metrics);
    this.itemCache = new ItemCache({ maxAgeMs: config.itemCacheMaxAgeMs, maxItems: config.itemCacheMaxItems });
    this.models = new ModelManager(new ModelRegistry(config.modelsDir), { intraOpThreads: config.modelIntraOpThreads }, dependencies.logger, dependencies.clock);
    this.shadow = new ShadowScorer(dependencies.metrics, { maxPending: config.shadowMaxPending, topK: config.shadowTopK, logger: dependencies.logger });
    this.service = new FeedService({
      config,
      store: this.store,
      pools: this.pools,
      itemCache: this.itemCache,
      models: this.models,
      shadow: this.shadow,
      candidateLimits: { ...DEFAULT_CANDIDATE_LIMITS, total: config.maxCandidates },
      rules: feedRulesOf(config),
      metrics,
      clock: dependencies.clock ?? Date.now,
      ...(dependencies.random === undefined ? {} : { random: dependencies.random }),
    });
    this.live = new LiveFeedHub(this.service, config, metrics);
  }

  /**
   * Registers the feed routes, `/docs` and, when ADMIN_TOKEN is set, the admin routes into their
   * own route scope with the ranker's error catalogue. Every reply there carries the request id in
   * `x-request-id`. `/docs` also describes `openApiAdditions`, the routes of roles that share the
   * process.
   */
  async register(instance: FastifyInstance, openApiAdditions: readonly OpenApiAddition[] = []): Promise<void> {
    await instance.register(async (scope) => {
      installErrorHandler(scope, RANKER_HTTP_CODES);
      // A callback hook rather than an async one, which costs a promise per reply.
      scope.addHook('onSend', (request, reply, payload, done) => {
        reply.header('x-request-id', request.id);
        done(null, payload);
      });
      registerFeedRoute(scope, this.service);
      this.live.register(scope);
      // Open live feeds would keep the server's close waiting until the shutdown timeout.
      scope.addHook('preClose', async () => this.live.closeAll());
      registerOpenApiRoutes(scope, openApiAdditions);
      if (this.dependencies.config.adminToken !== '') {
        registerAdminRoutes(scope, { token: this.dependencies.config.adminToken, models: this.models, store: this.store });
      }
    });
  }

  /** Registers the demo page; the process does so only where the collector runs beside the ranker. */
  async registerDemo(instance: FastifyInstance): Promise<void> {
    await registerDemoPage(instance);
  }

  /**
   * Loads and validates the model of MODEL_DIR; rejects when it is not usable. It reads no store, so
   * a process calls it before a slow seed to fail fast on a wrong MODEL_DIR. Later calls do nothing.
   */
  async loadModel(): Promise<void> {
    this.modelLoading ??= this.loadModelOfDirectory();
    await this.modelLoading;
  }

  private async loadModelOfDirectory(): Promise<void> {
    const { config, logger } = this.dependencies;
    const model = await this.models.start(config.modelDir);
    logger.info({ model: model.manifest.name, version: model.manifest.version, features: model.features.length }, 'model loaded');
  }

  /** Loads the model unless `loadModel` did, reads the pools once and subscribes to the change notices; rejects if any fails. */
  async start(): Promise<void> {
    const { config, logger } = this.dependencies;
    await this.loadModel();
    await warnIfModelsDirMissing(config, logger);
    await this.refresher.start();
    const notices = this.dependencies.changeNotices;
    if (notices !== undefined) {
      this.unsubscribes.push(await notices.subscribeSessions((sessionIds) => this.live.notify(sessionIds)));
      this.unsubscribes.push(
        await notices.subscribeItems(
          (itemIds) => this.itemCache.invalidate(itemIds),
          () => this.itemCache.clear(),
        ),
      );
    }
  }

  get currentModel(): RankingModel | undefined {
    return this.models.liveModel;
  }

  /**
   * Serves every later request with `model`, which the caller validated (for instance with
   * `loadRankingModel`). Requests that hold the previous model finish on it, and its session is
   * released when the last of them ends.
   */
  async useModel(model: RankingModel): Promise<void> {
    await this.models.useLoaded(model);
  }

  async stop(): Promise<void> {
    await Promise.all(this.unsubscribes.splice(0).map((unsubscribe) => unsubscribe()));
    this.live.closeAll();
    await this.refresher.stop();
    await this.models.stop();
    await this.store.drain();
  }
}

/**
 * Logs a warning when the admin API is on but MODELS_DIR is not a folder, because the admin API
 * then lists no registry version and activates none. The ranker starts anyway: the model it serves
 * comes from MODEL_DIR, and the admin API reads the registry on each call, so a folder created
 * later is found. Without ADMIN_TOKEN the ranker never reads MODELS_DIR, so nothing is logged.
 */
async function warnIfModelsDirMissing(config: RankerConfig, logger: Logger): Promise<void> {
  if (config.adminToken === '') {
    return;
  }
  const path = resolve(config.modelsDir);
  let isFolder = false;
  let statError: unknown;
  try {
    isFolder = (await stat(path)).isDirectory();
  } catch (error) {
    statError = error;
  }
  if (!isFolder) {
    const fields = { modelsDir: config.modelsDir, path, ...(statError === undefined ? {} : { err: statError }) };
    logger.warn(fields, 'MODELS_DIR is not a folder; the admin API finds no model version to list or activate');
  }
}
