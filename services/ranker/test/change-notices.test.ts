import { createLogger } from '@nexttap/observability';
import { startRedisServer, type RedisServer } from '@nexttap/testkit';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InProcessChangeNotices, itemChangesChannel, RedisChangeNotices } from '../src/index';

const logger = createLogger({ level: 'silent', service: 'change-notices-test' });
const PREFIX = 'notices:';
/** A notice crosses a loopback Redis in about a millisecond; a loaded machine may take seconds. */
const POLL = { timeout: 10_000, interval: 20 };

describe('RedisChangeNotices', () => {
  let redis: RedisServer;
  let clients: Redis[];

  beforeEach(async () => {
    redis = await startRedisServer();
    clients = [];
  });

  afterEach(async () => {
    clients.forEach((client) => client.disconnect());
    await redis.stop();
  });

  /** Connects a publisher and a subscriber, as one process does, and returns its notices. */
  async function processNotices(): Promise<RedisChangeNotices> {
    // Reconnects quickly, so that a restarted server is found within the test.
    const options = { retryStrategy: () => 50 };
    const publisher = new Redis(redis.url, options);
    const subscriber = new Redis(redis.url, options);
    clients.push(publisher, subscriber);
    await Promise.all([publisher.ping(), subscriber.ping()]);
    return new RedisChangeNotices(publisher, subscriber, PREFIX, logger);
  }

  it('carries item and session notices between processes', async () => {
    const ingest = await processNotices();
    const ranker = await processNotices();
    const items: string[][] = [];
    const sessions: string[][] = [];
    await ranker.subscribeItems((ids) => items.push([...ids]), () => undefined);
    await ranker.subscribeSessions((ids) => sessions.push([...ids]));

    ingest.publishItems(new Set(['item-1', 'item-2']));
    ingest.publishSessions(['session-1']);
    ingest.publishItems([]);

    await vi.waitFor(() => expect(sessions).toEqual([['session-1']]), POLL);
    await vi.waitFor(() => expect(items).toEqual([['item-1', 'item-2']]), POLL);
  });

  it('reports possibly missed item notices after the subscriber reconnects, and delivers later ones', async () => {
    const ingest = await processNotices();
    const ranker = await processNotices();
    const items: string[][] = [];
    let missed = 0;
    await ranker.subscribeItems(
      (ids) => items.push([...ids]),
      () => {
        missed += 1;
      },
    );

    await redis.restart();
    await vi.waitFor(() => expect(missed).toBe(1), POLL);
    ingest.publishItems(['item-after']);

    await vi.waitFor(() => expect(items).toEqual([['item-after']]), POLL);
  });

  it('ignores a message that is not a JSON array of ids', async () => {
    const ranker = await processNotices();
    const items: string[][] = [];
    await ranker.subscribeItems((ids) => items.push([...ids]), () => undefined);
    const other = new Redis(redis.url);
    clients.push(other);

    await other.publish(itemChangesChannel(PREFIX), '{"ids":["item-1"]}');
    await other.publish(itemChangesChannel(PREFIX), '["item-2"]');

    await vi.waitFor(() => expect(items).toEqual([['item-2']]), POLL);
  });
});

describe('InProcessChangeNotices', () => {
  it('delivers each kind of notice to its own listeners until they are removed', async () => {
    const notices = new InProcessChangeNotices();
    const items: string[][] = [];
    const sessions: string[][] = [];
    const removeItems = await notices.subscribeItems((ids) => items.push([...ids]));
    await notices.subscribeSessions((ids) => sessions.push([...ids]));

    notices.publishItems(['item-1']);
    notices.publishSessions(['session-1']);
    await removeItems();
    notices.publishItems(['item-2']);

    expect(items).toEqual([['item-1']]);
    expect(sessions).toEqual([['session-1']]);
  });
});
