import type { Logger } from '@nexttap/observability';
import type { PoolCache } from '@nexttap/rank';

/**
 * Refreshes the candidate pools on a timer. A failed refresh keeps the previous copy, so feeds go
 * on from slightly stale pools while the store is away; failures are logged once per outage.
 */
export class PoolRefresher {
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly pools: PoolCache,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Refreshes once, then on every interval. Rejects when the first refresh fails. */
  async start(): Promise<void> {
    await this.pools.refresh(this.clock());
    this.timer = setInterval(() => {
      this.running ??= this.refreshQuietly().finally(() => {
        this.running = undefined;
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async refreshQuietly(): Promise<void> {
    try {
      await this.pools.refresh(this.clock());
      if (this.failing) {
        this.failing = false;
        this.logger.info({ intervalMs: this.intervalMs }, 'candidate pool refresh recovered');
      }
    } catch (error) {
      if (!this.failing) {
        this.failing = true;
        this.logger.warn({ err: error, intervalMs: this.intervalMs }, 'candidate pool refresh failed; serving the previous pools');
      }
    }
  }
}
