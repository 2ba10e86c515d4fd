import { parseServerConfig, type ServerConfig } from '@nexttap/cli';

export const MODEL_DIR = new URL('../models/movielens-mlp/1', import.meta.url).pathname;
export const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;

/**
 * Builds the configuration of a benchmark ranker: the bundled model and MovieLens seed on a free
 * port with logging off, on the memory store or on the Redis at `redisUrl`, with `overrides` on top.
 */
export function benchRankerConfig(redisUrl: string | undefined, overrides: Record<string, string> = {}): ServerConfig {
  return parseServerConfig({
    PORT: '0',
    MODEL_DIR,
    MOVIELENS_DIR,
    LOG_LEVEL: 'silent',
    SEED_DATASET: 'movielens',
    ...(redisUrl === undefined ? {} : { REDIS_URL: redisUrl, REDIS_COMMAND_TIMEOUT_MS: '1000' }),
    ...overrides,
  });
}
