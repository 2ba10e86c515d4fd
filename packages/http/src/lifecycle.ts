/** States of a service process, in the only order they move through. */
export type LifecycleState = 'starting' | 'ready' | 'draining' | 'stopped';

const ORDER: readonly LifecycleState[] = ['starting', 'ready', 'draining', 'stopped'];

/** Tracks a service's state; readiness reads it, and shutdown moves it forward only. */
export class Lifecycle {
  private current: LifecycleState = 'starting';

  get state(): LifecycleState {
    return this.current;
  }

  get isReady(): boolean {
    return this.current === 'ready';
  }

  /** Moves to a later state; a move back is ignored, so a second shutdown changes nothing. */
  moveTo(state: LifecycleState): boolean {
    if (ORDER.indexOf(state) <= ORDER.indexOf(this.current)) {
      return false;
    }
    this.current = state;
    return true;
  }
}
