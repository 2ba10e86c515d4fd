import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { createLogger } from '@nexttap/observability';
import { startRedisServer, uniqueName, type RedisServer } from '@nexttap/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MODEL_DIR, postJson } from './feed-scenario';
import { SseClient } from './sse-client';

const logger = createLogger({ level: 'silent', service: 'live-feed-test' });
const CATALOG = Array.from({ length: 24 }, (_, index) => ({
  itemId: `live-item-${index}`,
  categories: [['Action', 'Comedy', 'Drama', 'Horror'][index % 4] as string],
  title: `Title ${index}`,
}));

interface FeedEventBody {
  feedId: string;
  items: Array<{ itemId: string; catalog?: { title?: string } }>;
}

/** Loads a small catalog and some engagement through the collector, then waits until feeds have items. */
async function prepare(server: RunningServer): Promise<void> {
  expect((await postJson(server.url, '/v1/catalog', { items: CATALOG })).status).toBe(202);
  const events = CATALOG.map((item, index) => ({
    eventId: uniqueName('crowd'),
    type: 'play',
    ts: Date.now() - 10_000,
    sessionId: `crowd-${index % 5}`,
    itemId: item.itemId,
  }));
  expect((await postJson(server.url, '/v1/events', { events })).status).toBe(202);
  await vi.waitFor(
    async () => {
      expect((await postJson(server.url, '/v1/feed', { sessionId: uniqueName('probe'), limit: 5 })).body.items).toHaveLength(5);
    },
    { timeout: 20_000, interval: 100 },
  );
}

async function tap(server: RunningServer, sessionId: string, itemId: string): Promise<void> {
  const event = { eventId: uniqueName('tap'), type: 'tap', ts: Date.now(), sessionId, itemId };
  expect((await postJson(server.url, '/v1/events', { events: [event] })).status).toBe(202);
}

/** Reads one series of `GET /metrics`, such as `nexttap_live_feeds_open`, as a number, or 0 when the series is absent. */
async function readMetric(server: RunningServer, series: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const LIVE_STREAMS_COUNTED = 'nexttap_http_responses_total{method="GET",route="/v1/feed/live",status="200"}';
const LIVE_HEADS_COUNTED = 'nexttap_http_responses_total{method="HEAD",route="/v1/feed/live",status="200"}';
const CONNECT_PUSHES = 'nexttap_live_pushes_total{trigger="connect"}';

function liveUrl(server: RunningServer, sessionId: string): string {
  return `${server.url}/v1/feed/live?sessionId=${encodeURIComponent(sessionId)}&limit=6&includeCatalog=true`;
}

/** Opens a live feed, taps its first item through the collector and expects the re-ranked feed without it. */
async function expectLiveFeedFollowsTap(server: RunningServer): Promise<void> {
  const sessionId = uniqueName('live');
  const client = await SseClient.open(liveUrl(server, sessionId));
  try {
    expect(client.status).toBe(200);
    const first = await client.next();
    expect(first.event).toBe('feed');
    const firstBody = JSON.parse(first.data) as FeedEventBody;
    expect(first.id).toBe(firstBody.feedId);
    expect(firstBody.items).toHaveLength(6);
    expect(firstBody.items[0]?.catalog?.title).toMatch(/^Title /);

    const tapped = firstBody.items[0]?.itemId as string;
    await tap(server, sessionId, tapped);
    const pushed = await client.next();
    const pushedBody = JSON.parse(pushed.data) as FeedEventBody;
    expect(pushed.id).not.toBe(first.id);
    expect(pushedBody.items.map((item) => item.itemId)).not.toContain(tapped);

    // A reconnect names the last event it saw and gets the current feed at once, not a replay.
    client.close();
    const again = await SseClient.open(liveUrl(server, sessionId), { 'last-event-id': first.id as string });
    try {
      const current = await again.next(2_000);
      const currentBody = JSON.parse(current.data) as FeedEventBody;
      expect(current.id).not.toBe(first.id);
      expect(currentBody.items.map((item) => item.itemId)).not.toContain(tapped);
    } finally {
      again.close();
    }
  } finally {
    client.close();
  }
}

/** Starts an embedded server (in-process bus, memory store) with `settings` and prepares its feeds. */
async function startEmbedded(settings: Record<string, string>): Promise<RunningServer> {
  const config = parseServerConfig({ PORT: '0', MODEL_DIR, LOG_LEVEL: 'silent', SEED_DATASET: 'none', POOL_REFRESH_INTERVAL_MS: '100', ...settings });
  const server = await startServer('all', config, { logger });
  await prepare(server);
  return server;
}

describe('live feed, session that keeps changing', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startEmbedded({ LIVE_DEBOUNCE_MS: '300', LIVE_MAX_WAIT_MS: '400' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('pushes within the max wait', async () => {
    const sessionId = uniqueName('busy');
    const client = await SseClient.open(liveUrl(server, sessionId));
    try {
      await client.next();
      const pushed = client.next(5_000).then(() => performance.now());
      // Taps 60 ms apart never leave the 300 ms of quiet the debounce waits for.
      for (let index = 0; index < 25; index++) {
        await tap(server, sessionId, CATALOG[index % CATALOG.length]?.itemId as string);
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
      const tapsEndedAt = performance.now();
      expect(await pushed).toBeLessThan(tapsEndedAt);
    } finally {
      client.close();
    }
  });
});

describe('live feed, embedded', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startEmbedded({ LIVE_DEBOUNCE_MS: '20', LIVE_MAX_CONNECTIONS: '3', CORS_ALLOWED_ORIGINS: 'https://app.example.com' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('pushes the re-ranked feed after a tap', async () => {
    await expectLiveFeedFollowsTap(server);
  });

  it('rejects a live feed over the limit', async () => {
    const open = await Promise.all([1, 2, 3].map(() => SseClient.open(liveUrl(server, uniqueName('crowded')))));
    try {
      await Promise.all(open.map((client) => client.next()));
      const response = await fetch(liveUrl(server, uniqueName('one-more')));
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('RANKER_ERR_TOO_MANY_LIVE_FEEDS');
    } finally {
      open.forEach((client) => client.close());
    }
  });

  it('rejects an invalid query with the field', async () => {
    const response = await fetch(`${server.url}/v1/feed/live?sessionId=s&limit=500`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: object }).error).toMatchObject({ code: 'RANKER_ERR_INVALID_REQUEST', field: 'limit' });
  });

  it('answers HEAD with the stream headers at once', async () => {
    const pushesBefore = await readMetric(server, CONNECT_PUSHES);
    const headsBefore = await readMetric(server, LIVE_HEADS_COUNTED);

    // A HEAD whose headers wait for the stream to end would time out here.
    const response = await fetch(liveUrl(server, uniqueName('head')), { method: 'HEAD', signal: AbortSignal.timeout(3_000) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('x-request-id')).toMatch(/./);
    // A stream has no length, so a HEAD must not claim one either.
    expect(response.headers.get('content-length')).toBeNull();
    expect(await response.text()).toBe('');

    await vi.waitFor(async () => expect(await readMetric(server, 'nexttap_live_feeds_open')).toBe(0));
    expect(await readMetric(server, CONNECT_PUSHES)).toBe(pushesBefore);
    expect(await readMetric(server, LIVE_HEADS_COUNTED)).toBe(headsBefore + 1);
  });

  it('rejects an invalid HEAD query as GET does', async () => {
    const response = await fetch(`${server.url}/v1/feed/live?sessionId=s&limit=500`, { method: 'HEAD', signal: AbortSignal.timeout(3_000) });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.text()).toBe('');
  });

  it('sends CORS headers on the stream', async () => {
    const client = await SseClient.open(liveUrl(server, uniqueName('cors')), { origin: 'https://app.example.com' });
    try {
      expect(client.status).toBe(200);
      expect(client.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(client.headers.get('access-control-expose-headers')).toBe('x-request-id, retry-after');
      expect(client.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(client.headers.get('x-request-id')).toMatch(/./);
      expect((await client.next()).event).toBe('feed');
    } finally {
      client.close();
    }
  });

  it('counts each stream once as a 200 reply', async () => {
    const countedBefore = await readMetric(server, LIVE_STREAMS_COUNTED);
    const client = await SseClient.open(liveUrl(server, uniqueName('counted')));
    try {
      await client.next();
      // The stream is counted when its head is sent, while it is still open.
      await vi.waitFor(async () => expect(await readMetric(server, LIVE_STREAMS_COUNTED)).toBe(countedBefore + 1));
    } finally {
      client.close();
    }
    await vi.waitFor(async () => expect(await readMetric(server, 'nexttap_live_feeds_open')).toBe(0));
    expect(await readMetric(server, LIVE_STREAMS_COUNTED)).toBe(countedBefore + 1);
  });
});

describe('live feed, limit of one', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startEmbedded({ LIVE_MAX_CONNECTIONS: '1' });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('names the limit in the singular', async () => {
    const open = await SseClient.open(liveUrl(server, uniqueName('alone')));
    try {
      await open.next();
      const response = await fetch(liveUrl(server, uniqueName('second')));
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
        'this ranker already has 1 open live feed, its limit (LIVE_MAX_CONNECTIONS); retry later or use POST /v1/feed',
      );

      // HEAD reports what a GET would get now.
      const head = await fetch(liveUrl(server, uniqueName('head')), { method: 'HEAD', signal: AbortSignal.timeout(3_000) });
      expect(head.status).toBe(503);
      expect(head.headers.get('retry-after')).toBe('5');
    } finally {
      open.close();
    }
  });
});

describe('live feed over Redis pub/sub', () => {
  let redis: RedisServer;
  let server: RunningServer;

  beforeAll(async () => {
    redis = await startRedisServer();
    const config = parseServerConfig({
      PORT: '0',
      MODEL_DIR,
      LOG_LEVEL: 'silent',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `${uniqueName('live')}:`,
      POOL_REFRESH_INTERVAL_MS: '100',
      LIVE_DEBOUNCE_MS: '20',
    });
    server = await startServer('all', config, { logger });
    await prepare(server);
  });

  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it('pushes the re-ranked feed after a tap', async () => {
    await expectLiveFeedFollowsTap(server);
  });
});
