import { startServer } from '@nexttap/cli';
import { createLogger } from '@nexttap/observability';
import { startRedisServer } from '@nexttap/testkit';
import autocannon from 'autocannon';

import { benchRankerConfig } from './ranker-config';

export interface FeedResult {
  store: string;
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/**
 * Serves feeds from the embedded server (MovieLens seeded) and loads it with autocannon: each
 * request asks for 20 items for one of 600 MovieLens users' sessions, so the ranker generates
 * candidates, reads their features and runs the model on every request.
 */
async function measure(store: 'memory' | 'redis', connections: number, durationSeconds: number): Promise<FeedResult> {
  const redis = store === 'redis' ? await startRedisServer() : undefined;
  const config = benchRankerConfig(redis?.url);
  const server = await startServer('ranker', config, { logger: createLogger({ level: 'silent', service: 'bench' }) });
  try {
    const requests = Array.from({ length: 600 }, (_, index) => ({
      method: 'POST' as const,
      path: '/v1/feed',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId: `${index + 1}-0`, userId: String(index + 1), limit: 20 }),
    }));
    const result = await autocannon({ url: server.url, connections, duration: durationSeconds, requests });
    return {
      store,
      connections,
      requestsPerSecond: Math.round(result.requests.average),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      errors: result.errors + result.non2xx,
    };
  } finally {
    await server.close();
    await redis?.stop();
  }
}

export async function benchFeedLatency(durationSeconds: number): Promise<FeedResult[]> {
  const results: FeedResult[] = [];
  for (const store of ['memory', 'redis'] as const) {
    for (const connections of [1, 10]) {
      results.push(await measure(store, connections, durationSeconds));
    }
  }
  return results;
}
