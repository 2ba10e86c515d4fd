/** One Server-Sent Event as a client sees it. */
export interface ServerSentEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * A minimal SSE client over fetch for tests: it parses `id`, `event` and `data` fields, skips
 * comment lines, and hands events out in arrival order.
 */
export class SseClient {
  private readonly queue: ServerSentEvent[] = [];
  private readonly waiters: Array<(event: ServerSentEvent) => void> = [];
  private buffer = '';

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly controller: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const controller = new AbortController();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    const client = new SseClient(response.status, response.headers, controller);
    if (response.body !== null) {
      void client.pump(response.body.getReader());
    }
    return client;
  }

  /** Resolves with the next event, or rejects after `timeoutMs`. */
  next(timeoutMs = 10_000): Promise<ServerSentEvent> {
    const queued = this.queue.shift();
    if (queued !== undefined) {
      return Promise.resolve(queued);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no server-sent event within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((event) => {
        clearTimeout(timer);
        resolve(event);
      });
    });
  }

  close(): void {
    this.controller.abort();
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        this.buffer += decoder.decode(value, { stream: true });
        let end = this.buffer.indexOf('\n\n');
        while (end >= 0) {
          this.dispatch(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
          end = this.buffer.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted by close().
    }
  }

  private dispatch(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon === 0) continue;
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    const parsed = { id, event, data: data.join('\n') };
    const waiter = this.waiters.shift();
    if (waiter === undefined) this.queue.push(parsed);
    else waiter(parsed);
  }
}
