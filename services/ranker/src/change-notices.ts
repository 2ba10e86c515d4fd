import type { Logger } from '@nexttap/observability';
import type { Redis } from 'ioredis';

/** Receives the ids of sessions, or of items, whose features changed. */
export type ChangeListener = (ids: readonly string[]) => void;

/**
 * Carries ingest's change notices to the rankers. After each applied batch ingest publishes the
 * sessions whose features changed, and every ranker re-ranks their live feeds. It also publishes
 * the items whose counters or catalog records changed, and every ranker drops them from its item
 * cache, so that its next feed reads them again.
 */
export interface ChangeNotices {
  publishSessions(sessionIds: Iterable<string>): void;
  publishItems(itemIds: Iterable<string>): void;
  /** Adds a listener of session notices; resolves once notices reach it, with a function that removes it. */
  subscribeSessions(listener: ChangeListener): Promise<() => Promise<void>>;
  /**
   * Adds a listener of item notices. `onMissed` runs when notices may have been lost, after the
   * connection that carries them was down, so that the listener drops whatever they would have
   * changed. Resolves once notices reach the listener, with a function that removes it.
   */
  subscribeItems(listener: ChangeListener, onMissed: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Notices within one process, for the embedded mode. None can be lost, so `onMissed` never runs. */
export class InProcessChangeNotices implements ChangeNotices {
  private readonly sessionListeners = new Set<ChangeListener>();
  private readonly itemListeners = new Set<ChangeListener>();

  publishSessions(sessionIds: Iterable<string>): void {
    deliverTo(this.sessionListeners, [...sessionIds]);
  }

  publishItems(itemIds: Iterable<string>): void {
    deliverTo(this.itemListeners, [...itemIds]);
  }

  async subscribeSessions(listener: ChangeListener): Promise<() => Promise<void>> {
    return addListener(this.sessionListeners, listener);
  }

  async subscribeItems(listener: ChangeListener): Promise<() => Promise<void>> {
    return addListener(this.itemListeners, listener);
  }

  async close(): Promise<void> {
    this.sessionListeners.clear();
    this.itemListeners.clear();
  }
}

/** Name of the Redis pub/sub channel of session change notices. */
export function sessionChangesChannel(keyPrefix: string): string {
  return `${keyPrefix}session-changes`;
}

/** Name of the Redis pub/sub channel of item change notices. */
export function itemChangesChannel(keyPrefix: string): string {
  return `${keyPrefix}item-changes`;
}

/**
 * Notices over Redis pub/sub, each message a JSON array of ids. A session notice is a hint to
 * re-rank, so one lost while a connection is down only delays a live feed until the next change.
 * A lost item notice would leave a changed item in a ranker's cache until the cache's max age, so
 * each reconnect of the subscriber runs the item listeners' `onMissed`. ioredis subscribes again
 * after a reconnect.
 */
export class RedisChangeNotices implements ChangeNotices {
  private readonly sessionListeners = new Set<ChangeListener>();
  private readonly itemListeners = new Set<ChangeListener>();
  private readonly missedListeners = new Set<() => void>();
  private readonly subscribed = new Map<string, Promise<unknown>>();
  private readonly sessionChannel: string;
  private readonly itemChannel: string;
  private readonly failingChannels = new Set<string>();
  /** Whether the subscriber was ready once; a later `ready` is a reconnect. */
  private subscriberWasReady = false;

  /**
   * @param publisher a client in normal mode, which sends the notices
   * @param subscriber a client of its own, because a subscribed Redis connection accepts no other commands
   */
  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    keyPrefix: string,
    private readonly logger: Logger,
  ) {
    this.sessionChannel = sessionChangesChannel(keyPrefix);
    this.itemChannel = itemChangesChannel(keyPrefix);
    this.subscriberWasReady = subscriber.status === 'ready';
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.sessionChannel) {
        this.deliver(channel, message, this.sessionListeners);
      } else if (channel === this.itemChannel) {
        this.deliver(channel, message, this.itemListeners);
      }
    });
    this.subscriber.on('ready', () => {
      if (!this.subscriberWasReady) {
        this.subscriberWasReady = true;
        return;
      }
      if (!this.subscribed.has(this.itemChannel)) {
        return;
      }
      // Runs `onMissed` once the channel is subscribed again, so that no change between the two
      // goes unnoticed. Redis runs a connection's commands in order, so the reply to this SUBSCRIBE
      // comes after the subscription is in place, whether this one or the client's own made it.
      const runMissed = () => {
        for (const onMissed of this.missedListeners) {
          onMissed();
        }
      };
      this.subscriber.subscribe(this.itemChannel).then(runMissed, runMissed);
    });
  }

  publishSessions(sessionIds: Iterable<string>): void {
    this.publish(this.sessionChannel, [...sessionIds]);
  }

  publishItems(itemIds: Iterable<string>): void {
    this.publish(this.itemChannel, [...itemIds]);
  }

  async subscribeSessions(listener: ChangeListener): Promise<() => Promise<void>> {
    const remove = addListener(this.sessionListeners, listener);
    await this.subscribe(this.sessionChannel);
    return remove;
  }

  async subscribeItems(listener: ChangeListener, onMissed: () => void): Promise<() => Promise<void>> {
    this.itemListeners.add(listener);
    this.missedListeners.add(onMissed);
    await this.subscribe(this.itemChannel);
    return async () => {
      this.itemListeners.delete(listener);
      this.missedListeners.delete(onMissed);
    };
  }

  async close(): Promise<void> {
    this.sessionListeners.clear();
    this.itemListeners.clear();
    this.missedListeners.clear();
  }

  private subscribe(channel: string): Promise<unknown> {
    let subscribed = this.subscribed.get(channel);
    if (subscribed === undefined) {
      subscribed = this.subscriber.subscribe(channel);
      this.subscribed.set(channel, subscribed);
    }
    return subscribed;
  }

  private publish(channel: string, ids: readonly string[]): void {
    if (ids.length === 0) {
      return;
    }
    this.publisher.publish(channel, JSON.stringify(ids)).then(
      () => {
        this.failingChannels.delete(channel);
      },
      (error: unknown) => {
        if (!this.failingChannels.has(channel)) {
          this.failingChannels.add(channel);
          this.logger.warn(
            { err: error, channel },
            channel === this.itemChannel
              ? 'item change notice failed; rankers serve cached items up to ITEM_CACHE_MAX_AGE_MS old'
              : 'session change notice failed; live feeds update at the next change',
          );
        }
      },
    );
  }

  private deliver(channel: string, message: string, listeners: ReadonlySet<ChangeListener>): void {
    let ids: unknown;
    try {
      ids = JSON.parse(message);
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      this.logger.warn({ channel, length: message.length }, 'change notice ignored: not a JSON array of ids');
      return;
    }
    deliverTo(listeners, ids);
  }
}

function deliverTo(listeners: ReadonlySet<ChangeListener>, ids: readonly string[]): void {
  if (ids.length === 0) {
    return;
  }
  for (const listener of listeners) {
    listener(ids);
  }
}

function addListener(listeners: Set<ChangeListener>, listener: ChangeListener): () => Promise<void> {
  listeners.add(listener);
  return async () => {
    listeners.delete(listener);
  };
}
