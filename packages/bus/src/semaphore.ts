/** A counting semaphore: at most `limit` holders at once, the waiting ones served first come, first served. */
export class Semaphore {
  private holders = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Resolves once the caller holds a permit, which it must give back with `release`. */
  acquire(): Promise<void> {
    if (this.holders < this.limit) {
      this.holders += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Gives a permit back, to the longest waiting caller if there is one. */
  release(): void {
    const next = this.waiters.shift();
    if (next === undefined) {
      this.holders -= 1;
    } else {
      next();
    }
  }
}
