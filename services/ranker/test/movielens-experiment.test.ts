import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { MemoryFeatureStore } from '@nexttap/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRanker, writeCatalog, writeEvents, type RankerApp } from './ranker-fixture';

const MODELS_DIR = fileURLToPath(new URL('../../../models', import.meta.url));
const NOW_MS = Date.parse('2026-03-01T12:00:00Z');
const TOKEN = 'movielens-experiment-token-1f';
const CANDIDATES = Array.from({ length: 40 }, (_, index) => `movie-${index}`);

describe('MovieLens models side by side', () => {
  let ranker: RankerApp;

  beforeAll(async () => {
    const store = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0 });
    await writeCatalog(store, CANDIDATES.map((itemId, index) => ({ itemId, categories: [['Drama', 'Comedy', 'Action'][index % 3] as string] })));
    await writeEvents(store, NOW_MS, CANDIDATES.flatMap((itemId, index) => Array.from({ length: index % 5 }, () => ({ itemId, type: 'like' as const }))));
    ranker = await startRanker(store, join(MODELS_DIR, 'movielens-mlp', '1'), () => NOW_MS, { modelsDir: MODELS_DIR, adminToken: TOKEN, feedStoreBudgetMs: '10000' });
  });

  afterAll(async () => {
    await ranker.close();
  });

  it('serves the TypeScript and the notebook model in one experiment', async () => {
    const started = await ranker.app.inject({
      method: 'POST',
      url: '/v1/admin/experiments',
      headers: { authorization: `Bearer ${TOKEN}` },
      payload: {
        id: 'mlp-vs-logreg',
        variants: [
          { name: 'mlp', model: 'movielens-mlp@1', weight: 1 },
          { name: 'logreg', model: 'movielens-logreg@1', weight: 1 },
        ],
      },
    });
    expect(started.statusCode, started.body).toBe(200);

    const served = new Map<string, number>();
    for (let user = 0; user < 40; user++) {
      const response = await ranker.app.inject({ method: 'POST', url: '/v1/feed', payload: { sessionId: `s-${user}`, userId: `u-${user}`, candidates: CANDIDATES, limit: 10 } });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.degraded).toBeUndefined();
      expect(body.items).toHaveLength(10);
      served.set(`${body.model.variant}=${body.model.name}@${body.model.version}`, (served.get(`${body.model.variant}=${body.model.name}@${body.model.version}`) ?? 0) + 1);
    }
    expect([...served.keys()].sort()).toEqual(['logreg=movielens-logreg@1', 'mlp=movielens-mlp@1']);
  });
});
