import type { RankingModel } from './ranking-model';

/**
 * A loaded model shared by concurrent requests, which acquire it before scoring and release it
 * after. Once the model is retired, the last release frees its onnxruntime session, so a swap
 * never frees a session that a request is still running.
 */
export class SharedModel {
  private inFlight = 0;
  private retired = false;
  private releasing: Promise<void> | undefined;
  private resolveReleased: (() => void) | undefined;
  private readonly whenReleased: Promise<void>;

  constructor(readonly model: RankingModel) {
    this.whenReleased = new Promise((resolve) => {
      this.resolveReleased = resolve;
    });
  }

  /** Requests that acquired the model and have not released it yet. */
  get activeRequests(): number {
    return this.inFlight;
  }

  /** Resolves once the model's session is released. */
  get released(): Promise<void> {
    return this.whenReleased;
  }

  get isRetired(): boolean {
    return this.retired;
  }

  /** Counts one more request; throws when the model is retired, because its session may be gone. */
  acquire(): RankingModel {
    if (this.retired) {
      throw new Error(`model ${this.model.manifest.name}@${this.model.manifest.version} is retired; acquire the model that serves now`);
    }
    this.inFlight += 1;
    return this.model;
  }

  /** Ends one request's use; the last release of a retired model frees its session. */
  release(): void {
    if (this.inFlight === 0) {
      throw new Error(`model ${this.model.manifest.name}@${this.model.manifest.version} was released more often than acquired`);
    }
    this.inFlight -= 1;
    if (this.retired && this.inFlight === 0) {
      this.freeSession();
    }
  }

  /**
   * Stops new requests from acquiring the model. Resolves once its session is released, which is
   * at once when no request holds it, or after the last holder's release.
   */
  retire(): Promise<void> {
    this.retired = true;
    if (this.inFlight === 0) {
      this.freeSession();
    }
    return this.whenReleased;
  }

  private freeSession(): void {
    // A failed release leaves nothing to retry, so retirement completes either way.
    this.releasing ??= this.model.release().catch(() => undefined).finally(() => this.resolveReleased?.());
  }
}
