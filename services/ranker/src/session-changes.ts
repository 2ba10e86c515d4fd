import type { Logger } from '@nexttap/observability';
import type { Redis } from 'ioredis';

/** Receives the ids of sessions whose features changed. */
export type SessionChangeListener = (sessionIds: readonly string[]) => void;

/**
 * Carries ingest's per-session change notices to the rankers: ingest publishes the sessions of each
 * applied batch, and every subscribed ranker re-ranks the live feeds of those sessions.
 */
export interface SessionChangeNotices {
  publish(sessionIds: Iterable<string>): void;
  /** Adds a listener; resolves once notices reach it, with a function that removes it. */
  subscribe(listener: SessionChangeListener): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Notices within one process, for the embedded mode. */
export class InProcessSessionChanges implements SessionChangeNotices {
  private readonly listeners = new Set<SessionChangeListener>();

  publish(sessionIds: Iterable<string>): void {
    const ids = [...sessionIds];
    for (const listener of this.listeners) {
      listener(ids);
    }
  }

  async subscribe(listener: SessionChangeListener): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return async () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** Name of the Redis pub/sub channel of session change notices. */
export function sessionChangesChannel(keyPrefix: string): string {
  return `${keyPrefix}session-changes`;
}

/**
 * Notices over Redis pub/sub, each message a JSON array of session ids. A notice is a hint to
 * re-rank, so one lost while a connection is down only delays a live feed until the next change.
 * ioredis subscribes again after a reconnect.
 */
export class RedisSessionChanges implements SessionChangeNotices {
  private readonly listeners = new Set<SessionChangeListener>();
  private subscribed: Promise<unknown> | undefined;
  private publishFailing = false;

  /**
   * @param publisher a client in normal mode, which sends the notices
   * @param subscriber a client of its own, because a subscribed Redis connection accepts no other commands
   */
  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) {
        this.deliver(message);
      }
    });
  }

  publish(sessionIds: Iterable<string>): void {
    const ids = [...sessionIds];
    if (ids.length === 0) {
      return;
    }
    this.publisher.publish(this.channel, JSON.stringify(ids)).then(
      () => {
        this.publishFailing = false;
      },
      (error: unknown) => {
        if (!this.publishFailing) {
          this.publishFailing = true;
          this.logger.warn({ err: error, channel: this.channel }, 'session change notice failed; live feeds update at the next change');
        }
      },
    );
  }

  async subscribe(listener: SessionChangeListener): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    this.subscribed ??= this.subscriber.subscribe(this.channel);
    await this.subscribed;
    return async () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private deliver(message: string): void {
    let ids: unknown;
    try {
      ids = JSON.parse(message);
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      this.logger.warn({ channel: this.channel, length: message.length }, 'session change notice ignored: not a JSON array of session ids');
      return;
    }
    for (const listener of this.listeners) {
      listener(ids);
    }
  }
}
