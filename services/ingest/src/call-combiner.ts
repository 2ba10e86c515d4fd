/** The outcome of one combined call: a result per item, in the order of the items, and facts about the whole call. */
export interface CombinedResult<Result, CallInfo> {
  results: Result[];
  call: CallInfo;
}

interface WaitingSubmission<Item, Result, CallInfo> {
  items: readonly Item[];
  resolve(result: CombinedResult<Result, CallInfo>): void;
  reject(error: unknown): void;
}

/**
 * Runs at most `maxCalls` calls of `callAll` at once and merges the items of waiting submissions
 * into one call, in submission order. A call starts at the end of the event-loop turn of the
 * submission that found a call free (`setImmediate`), so the submissions of one turn share it.
 * Submissions made while `maxCalls` calls run wait for one of them to end and then share the next
 * call. One call replaces several, each with its own reads, script run and round trips.
 * NOTE: in bench/ingest-freshness.ts each of the 3 partitions has its own broker and fetch, and
 * batches rarely share a turn (12.3 events per call at 11.4 per batch, paced at 1,000 events/s).
 * Whether kafkajs 2.2.4 hands over the partitions of one fetch response in one turn is unmeasured.
 *
 * Each submission resolves with its own slice of the results once the merged call resolved, and
 * every submission of a merged call rejects with its error when it fails.
 */
export class CallCombiner<Item, Result, CallInfo> {
  private waiting: Array<WaitingSubmission<Item, Result, CallInfo>> = [];
  private running = 0;
  private startScheduled = false;

  constructor(
    private readonly callAll: (items: Item[]) => Promise<CombinedResult<Result, CallInfo>>,
    private readonly maxCalls: number,
  ) {
    if (!Number.isInteger(maxCalls) || maxCalls <= 0) {
      throw new RangeError(`invalid maxCalls ${maxCalls}: pass a positive integer`);
    }
  }

  submit(items: readonly Item[]): Promise<CombinedResult<Result, CallInfo>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      this.scheduleStart();
    });
  }

  private scheduleStart(): void {
    if (this.startScheduled || this.running >= this.maxCalls) {
      return;
    }
    this.startScheduled = true;
    setImmediate(() => {
      this.startScheduled = false;
      this.startCalls();
    });
  }

  private startCalls(): void {
    while (this.running < this.maxCalls && this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      this.running += 1;
      void this.run(group);
    }
  }

  private async run(group: ReadonlyArray<WaitingSubmission<Item, Result, CallInfo>>): Promise<void> {
    try {
      const items = group.length === 1 ? [...(group[0] as WaitingSubmission<Item, Result, CallInfo>).items] : group.flatMap((submission) => submission.items);
      const { results, call } = await this.callAll(items);
      let start = 0;
      for (const submission of group) {
        submission.resolve({ results: results.slice(start, start + submission.items.length), call });
        start += submission.items.length;
      }
    } catch (error) {
      for (const submission of group) {
        submission.reject(error);
      }
    } finally {
      this.running -= 1;
      // The waiting submissions have waited for this call already, so the next call starts now.
      this.startCalls();
    }
  }
}
