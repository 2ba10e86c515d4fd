import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { ApiError, countHijackedResponse, parseQuery } from '@nexttap/http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { RankerConfig } from './config';
import { rankerError } from './errors';
import type { FeedMetrics } from './feed-metrics';
import { liveFeedQuerySchema, type LiveFeedQuery } from './feed-request';
import type { FeedService } from './feed-service';

/** One open live feed connection. */
interface LiveConnection {
  query: LiveFeedQuery;
  raw: ServerResponse;
  log: FastifyBaseLogger;
  debounce: NodeJS.Timeout | undefined;
  /** When the oldest change notice not yet pushed arrived (`performance.now()`, ms), or undefined. */
  firstNoticeAtMs: number | undefined;
  heartbeat: NodeJS.Timeout;
  /** The push in progress, if any; a notice during it triggers one more push after it. */
  pushing: Promise<void> | undefined;
  pushAgain: boolean;
  closed: boolean;
}

/** Headers that start every live feed stream, and the reply to a HEAD request. */
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // Asks nginx not to buffer the stream, which would delay each event.
  'x-accel-buffering': 'no',
} as const;

/** Milliseconds a client waits before reconnecting, sent as the SSE `retry` field. */
const RECONNECT_DELAY_MS = 1_000;

/**
 * Live feeds over Server-Sent Events. Each connection gets the session's feed at once, then a
 * re-ranked feed whenever the session's features change (debounced). The event id is the feedId,
 * and a reconnecting client gets the current feed at once whatever its Last-Event-ID, so it never
 * receives a replay of stale feeds.
 */
export class LiveFeedHub {
  private readonly bySession = new Map<string, Set<LiveConnection>>();
  private count = 0;

  constructor(
    private readonly service: FeedService,
    private readonly config: RankerConfig,
    private readonly metrics: FeedMetrics,
  ) {}

  /**
   * Registers `GET /v1/feed/live`, and through fastify's automatic HEAD route also `HEAD`. A HEAD
   * gets the status and headers a GET would start with, or the same 400 or 503, but opens no
   * stream, ranks no feed and takes no connection slot. So it gets 200 where a GET would fail in
   * ranking, which only a ranked feed reveals.
   */
  register(instance: FastifyInstance): void {
    instance.get('/v1/feed/live', async (request, reply) => {
      const query = parseQuery(liveFeedQuerySchema, request, 'RANKER_ERR_INVALID_REQUEST');
      this.checkConnectionLimit();
      if (request.method === 'HEAD') {
        // Node.js sends the head of a HEAD reply only when the reply ends, so a HEAD must not open
        // the stream. fastify 5 drains a stream payload of a HEAD reply and, unlike for an empty
        // payload, adds no `content-length: 0`, which would be false for a stream of unknown length.
        return reply.headers(STREAM_HEADERS).send(Readable.from([]));
      }
      // Rank the first feed before the stream opens, so that a failure is still an ordinary error reply.
      const first = await this.service.serve(this.feedQuery(query), { kind: 'live', includeCatalog: query.includeCatalog === 'true', log: request.log });
      reply.hijack();
      // A hijacked reply sends only what is set on `reply.raw`, so the headers that hooks set on the
      // reply, such as the CORS headers, are copied there.
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined) {
          reply.raw.setHeader(name, value);
        }
      }
      reply.raw.writeHead(200, { ...STREAM_HEADERS, 'x-request-id': request.id });
      countHijackedResponse(request, reply);
      reply.raw.write(`retry: ${RECONNECT_DELAY_MS}\n\n`);
      const connection = this.open(query, reply.raw, request.log);
      this.write(connection, first.feedId, first);
      this.metrics.livePushes.inc({ trigger: 'connect' });
      reply.raw.on('close', () => this.close(connection));
      return reply;
    });
  }

  /**
   * Schedules a push on every live feed of the given sessions once no notice arrived for the
   * debounce time, but at most `liveMaxWaitMs` after the first notice not yet pushed. Without that
   * bound a session that changes more often than the debounce time would get no push at all.
   */
  notify(sessionIds: readonly string[]): void {
    const nowMs = performance.now();
    for (const sessionId of sessionIds) {
      for (const connection of this.bySession.get(sessionId) ?? []) {
        connection.firstNoticeAtMs ??= nowMs;
        const untilDeadlineMs = connection.firstNoticeAtMs + this.config.liveMaxWaitMs - nowMs;
        clearTimeout(connection.debounce);
        connection.debounce = setTimeout(() => {
          connection.firstNoticeAtMs = undefined;
          this.push(connection);
        }, Math.max(0, Math.min(this.config.liveDebounceMs, untilDeadlineMs)));
      }
    }
  }

  /** Open live feeds. */
  get size(): number {
    return this.count;
  }

  /** Ends every live feed, for shutdown; clients reconnect to another ranker. */
  closeAll(): void {
    for (const connections of [...this.bySession.values()]) {
      for (const connection of [...connections]) {
        connection.raw.end();
        this.close(connection);
      }
    }
  }

  /** Throws the 503 of `LIVE_MAX_CONNECTIONS` when this ranker has no free live feed slot. */
  private checkConnectionLimit(): void {
    if (this.count < this.config.liveMaxConnections) {
      return;
    }
    const feeds = this.count === 1 ? 'live feed' : 'live feeds';
    throw rankerError('RANKER_ERR_TOO_MANY_LIVE_FEEDS', `this ranker already has ${this.count} open ${feeds}, its limit (LIVE_MAX_CONNECTIONS); retry later or use POST /v1/feed`, {
      headers: { 'retry-after': '5' },
    });
  }

  private feedQuery(query: LiveFeedQuery) {
    return { sessionId: query.sessionId, userId: query.userId, limit: query.limit, dropServed: false };
  }

  private open(query: LiveFeedQuery, raw: ServerResponse, log: FastifyBaseLogger): LiveConnection {
    const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), this.config.liveHeartbeatIntervalMs);
    heartbeat.unref();
    const connection: LiveConnection = { query, raw, log, debounce: undefined, firstNoticeAtMs: undefined, heartbeat, pushing: undefined, pushAgain: false, closed: false };
    const connections = this.bySession.get(query.sessionId) ?? new Set();
    connections.add(connection);
    this.bySession.set(query.sessionId, connections);
    this.count += 1;
    this.metrics.liveFeedsOpen.set(this.count);
    return connection;
  }

  private close(connection: LiveConnection): void {
    if (connection.closed) {
      return;
    }
    connection.closed = true;
    clearTimeout(connection.debounce);
    clearInterval(connection.heartbeat);
    const connections = this.bySession.get(connection.query.sessionId);
    connections?.delete(connection);
    if (connections?.size === 0) {
      this.bySession.delete(connection.query.sessionId);
    }
    this.count -= 1;
    this.metrics.liveFeedsOpen.set(this.count);
  }

  private push(connection: LiveConnection): void {
    if (connection.closed) {
      return;
    }
    if (connection.pushing !== undefined) {
      connection.pushAgain = true;
      return;
    }
    connection.pushing = this.pushOnce(connection).finally(() => {
      connection.pushing = undefined;
      if (connection.pushAgain) {
        connection.pushAgain = false;
        this.push(connection);
      }
    });
  }

  private async pushOnce(connection: LiveConnection): Promise<void> {
    try {
      const feed = await this.service.serve(this.feedQuery(connection.query), {
        kind: 'live',
        includeCatalog: connection.query.includeCatalog === 'true',
        log: connection.log,
      });
      if (!connection.closed) {
        this.write(connection, feed.feedId, feed);
        this.metrics.livePushes.inc({ trigger: 'change' });
      }
    } catch (error) {
      // The model may be swapping out; the next change notice tries again.
      const code = error instanceof ApiError ? error.code : undefined;
      connection.log.warn({ err: error, code, sessionId: connection.query.sessionId }, 'live feed push failed');
    }
  }

  private write(connection: LiveConnection, eventId: string, body: unknown): void {
    connection.raw.write(`id: ${eventId}\nevent: feed\ndata: ${JSON.stringify(body)}\n\n`);
  }
}
