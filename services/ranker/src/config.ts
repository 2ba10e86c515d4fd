import { numberSettingSchema } from '@nexttap/http/number-setting';
import { z } from 'zod';

/** A boolean environment variable: `true` or `false`, because z.coerce.boolean() reads "false" as true. */
const booleanFlag = (defaultValue: boolean) =>
  z
    .enum(['true', 'false'], { errorMap: () => ({ message: 'must be true or false' }) })
    .default(defaultValue ? 'true' : 'false')
    .transform((value) => value === 'true');

/** Settings of the ranker, parsed once from the environment. Defaults live here and nowhere else. */
export const rankerConfigSchema = z.object({
  modelDir: z.string().min(1).default('models/movielens-mlp/1')
    .describe('Folder of the model served at start: `models/<name>/<version>`.'),
  modelsDir: z.string().min(1).default('models')
    .describe('Folder of the model registry, laid out as `<name>/<version>/`; the admin API activates models from it. With ADMIN_TOKEN set, a missing folder gets a warning at start, and the admin API finds it once it is created.'),
  adminToken: z.string().default('')
    .refine((value) => value === '' || value.length >= 16, { message: 'must be empty (admin API off) or at least 16 characters' })
    .describe('Bearer token of the admin API (`/v1/admin/...`, `/v1/experiments/...`); empty leaves those routes unregistered, so they reply 404.'),
  shadowMaxPending: numberSettingSchema({ min: 0, max: 100_000, default: 100 })
    .describe('Shadow scoring jobs waiting at most; a feed served while this many wait is not shadow-scored, and `nexttap_shadow_dropped_total` counts it.'),
  shadowTopK: numberSettingSchema({ min: 1, max: 1_000, default: 10 })
    .describe('K of the top-K overlap between the shadow and the serving model.'),
  modelIntraOpThreads: numberSettingSchema({ min: 1, max: 64, default: 1 })
    .describe('Threads onnxruntime uses inside one model run.'),
  poolRefreshIntervalMs: numberSettingSchema({ min: 50, max: 600_000, default: 1_000, unit: 'milliseconds' })
    .describe('How often the in-process copy of the candidate pools is refreshed, in ms.'),
  poolPopularMaxAgeMs: numberSettingSchema({ min: 0, max: 3_600_000, default: 10_000, unit: 'milliseconds' })
    .describe('Age of the popular and category pools, in ms, at which a pool refresh reads them again; refreshes in between read only the trending, fresh and live pools. 0 reads every pool on every refresh.'),
  poolDepth: numberSettingSchema({ min: 10, max: 5_000, default: 200 })
    .describe('Members read from each candidate pool.'),
  maxCandidates: numberSettingSchema({ min: 1, max: 5_000, default: 400 })
    .describe('Cap on the candidates the ranker generates for a feed request without `candidates`; a request that sends its own is limited to 1,000 of them instead.'),
  // 512 KiB: a feed body at every documented maximum (two 128-character ids, 1,000 candidates and
  // 1,000 excluded ids of 128 characters, a 256-character cursor) takes about 263,000 bytes as
  // compact JSON, and more when indented.
  bodyLimitBytes: numberSettingSchema({ min: 1_024, max: 10_485_760, default: 524_288, unit: 'bytes' })
    .describe('Largest accepted request body, in bytes.'),
  feedStoreBudgetMs: numberSettingSchema({ min: 1, max: 10_000, default: 25, unit: 'milliseconds' })
    .describe('Time one feed request may wait for the feature store, in ms, summed over its reads; past it the feed comes from the in-process pool copy, marked degraded.'),
  itemCacheMaxAgeMs: numberSettingSchema({ min: 0, max: 60_000, default: 30_000, unit: 'milliseconds' })
    .describe('Oldest in-process copy of an item\'s counters and catalog record that a feed uses, in ms; an older copy is read again with the request. Ingest\'s item change notices drop a changed item\'s copy at once, so this bounds the age only where a notice is lost. Session features, the items a session saw and co-visitation are read on every request. 0 reads every candidate on every request.'),
  itemCacheMaxItems: numberSettingSchema({ min: 1, max: 10_000_000, default: 100_000 })
    .describe('Items whose counters and catalog record the ranker keeps in process at most; past it the copies read longest ago are dropped.'),
  rankingDepth: numberSettingSchema({ min: 1, max: 5_000, default: 200 })
    .describe('Items of a ranking that the feed rules order and that later pages (`cursor`) can reach.'),
  servedFeedTtlMs: numberSettingSchema({ min: 1_000, max: 604_800_000, default: 86_400_000, unit: 'milliseconds' })
    .describe('How long a served feed (ranking, pages, model) stays stored for paging and attribution, in ms.'),
  dropInteracted: booleanFlag(true)
    .describe('Drop items the session or its user already engaged with (any event but an impression): `true` or `false`.'),
  dropServedFeeds: numberSettingSchema({ min: 0, max: 50, default: 3 })
    .describe('Generated candidates served in this many of the session\'s latest responses are left out; 0 turns the rule off.'),
  diversityWindow: numberSettingSchema({ min: 0, max: 100, default: 6 })
    .describe('Window of consecutive positions in which the diversity limits hold; 0 or 1 turns diversity off.'),
  diversityMaxPerCategory: numberSettingSchema({ min: 1, max: 100, default: 4 })
    .describe('Items of one category allowed in any diversity window.'),
  diversityMaxPerCreator: numberSettingSchema({ min: 1, max: 100, default: 2 })
    .describe('Items of one creator allowed in any diversity window.'),
  explorationPosition: numberSettingSchema({ min: -1, max: 99, default: 3 })
    .describe('Position (0-based) of the exploration slot, filled by Thompson sampling among fresh or little-shown items; -1 turns it off.'),
  explorationMaxImpressions: numberSettingSchema({ min: 0, max: 1_000_000, default: 50, fraction: true })
    .describe('Items with fewer decayed impressions (7-day half-life) than this may take the exploration slot.'),
  explorationFreshMs: numberSettingSchema({ min: 0, max: 31_536_000_000, default: 172_800_000, unit: 'milliseconds' })
    .describe('Items published less than this many ms ago may take the exploration slot.'),
  liveBoostPositions: numberSettingSchema({ min: 0, max: 100, default: 3 })
    .describe('Positions a live item (catalog `live: true`) moves up after scoring; 0 turns the boost off.'),
  liveDebounceMs: numberSettingSchema({ min: 0, max: 60_000, default: 100, unit: 'milliseconds' })
    .describe('Quiet time after a session\'s change notice before its live feed is re-ranked and pushed, in ms.'),
  liveMaxWaitMs: numberSettingSchema({ min: 0, max: 60_000, default: 500, unit: 'milliseconds' })
    .describe('Longest a change notice waits for its push while the session keeps changing, in ms; a session that sends events more often than the debounce time still gets a feed this often.'),
  liveHeartbeatIntervalMs: numberSettingSchema({ min: 1_000, max: 300_000, default: 15_000, unit: 'milliseconds' })
    .describe('Interval of SSE comment lines that keep an idle live feed connection open through proxies, in ms.'),
  liveMaxConnections: numberSettingSchema({ min: 1, max: 1_000_000, default: 10_000 })
    .describe('Open live feeds one ranker process accepts; more get RANKER_ERR_TOO_MANY_LIVE_FEEDS.'),
});

export type RankerConfig = Readonly<z.infer<typeof rankerConfigSchema>>;

/** Environment variable of each setting. */
export const RANKER_ENVIRONMENT: Record<keyof RankerConfig, string> = {
  modelDir: 'MODEL_DIR',
  modelsDir: 'MODELS_DIR',
  adminToken: 'ADMIN_TOKEN',
  shadowMaxPending: 'SHADOW_MAX_PENDING',
  shadowTopK: 'SHADOW_TOP_K',
  modelIntraOpThreads: 'MODEL_INTRA_OP_THREADS',
  poolRefreshIntervalMs: 'POOL_REFRESH_INTERVAL_MS',
  poolPopularMaxAgeMs: 'POOL_POPULAR_MAX_AGE_MS',
  poolDepth: 'POOL_DEPTH',
  maxCandidates: 'MAX_CANDIDATES',
  bodyLimitBytes: 'RANKER_BODY_LIMIT_BYTES',
  feedStoreBudgetMs: 'FEED_STORE_BUDGET_MS',
  itemCacheMaxAgeMs: 'ITEM_CACHE_MAX_AGE_MS',
  itemCacheMaxItems: 'ITEM_CACHE_MAX_ITEMS',
  rankingDepth: 'RANKING_DEPTH',
  servedFeedTtlMs: 'SERVED_FEED_TTL_MS',
  dropInteracted: 'DROP_INTERACTED',
  dropServedFeeds: 'DROP_SERVED_FEEDS',
  diversityWindow: 'DIVERSITY_WINDOW',
  diversityMaxPerCategory: 'DIVERSITY_MAX_PER_CATEGORY',
  diversityMaxPerCreator: 'DIVERSITY_MAX_PER_CREATOR',
  explorationPosition: 'EXPLORATION_POSITION',
  explorationMaxImpressions: 'EXPLORATION_MAX_IMPRESSIONS',
  explorationFreshMs: 'EXPLORATION_FRESH_MS',
  liveBoostPositions: 'LIVE_BOOST_POSITIONS',
  liveDebounceMs: 'LIVE_DEBOUNCE_MS',
  liveMaxWaitMs: 'LIVE_MAX_WAIT_MS',
  liveHeartbeatIntervalMs: 'LIVE_HEARTBEAT_INTERVAL_MS',
  liveMaxConnections: 'LIVE_MAX_CONNECTIONS',
};
