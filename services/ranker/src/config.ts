import { z } from 'zod';

/** Settings of the ranker, parsed once from the environment. Defaults live here and nowhere else. */
export const rankerConfigSchema = z.object({
  modelDir: z.string().min(1).default('models/movielens-mlp/1')
    .describe('Folder of the model served at start: `models/<name>/<version>`.'),
  modelIntraOpThreads: z.coerce.number().int().min(1).max(64).default(1)
    .describe('Threads onnxruntime uses inside one model run.'),
  poolRefreshIntervalMs: z.coerce.number().int().min(50).max(600_000).default(1_000)
    .describe('How often the in-process copy of the candidate pools is refreshed, in ms.'),
  poolDepth: z.coerce.number().int().min(10).max(5_000).default(200)
    .describe('Members read from each candidate pool.'),
  maxCandidates: z.coerce.number().int().min(1).max(5_000).default(400)
    .describe('Cap on merged candidates per feed request.'),
  bodyLimitBytes: z.coerce.number().int().min(1_024).max(10_485_760).default(262_144)
    .describe('Largest accepted request body, in bytes.'),
});

export type RankerConfig = Readonly<z.infer<typeof rankerConfigSchema>>;

/** Environment variable of each setting. */
export const RANKER_ENVIRONMENT: Record<keyof RankerConfig, string> = {
  modelDir: 'MODEL_DIR',
  modelIntraOpThreads: 'MODEL_INTRA_OP_THREADS',
  poolRefreshIntervalMs: 'POOL_REFRESH_INTERVAL_MS',
  poolDepth: 'POOL_DEPTH',
  maxCandidates: 'MAX_CANDIDATES',
  bodyLimitBytes: 'RANKER_BODY_LIMIT_BYTES',
};
