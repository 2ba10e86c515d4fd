import type { ChainableCommander, Cluster } from 'ioredis';

/** Position of one queued command: its master node and its index in that node's pipeline. */
export interface QueuedCommand {
  node: string;
  index: number;
}

/**
 * Commands for a Redis Cluster, queued per master node and sent as one pipeline per node, all
 * nodes in parallel. ioredis sends a pipeline to a single node, so commands are grouped by the
 * master that the client's slot table names for their slot.
 */
export class NodePipelines {
  private readonly pipelines = new Map<string, { pipeline: ChainableCommander; size: number }>();
  private readonly replies = new Map<string, Array<[error: Error | null, reply: unknown]>>();

  constructor(private readonly cluster: Cluster) {}

  /** Queues a command for `slot`; `send` adds exactly one command to the pipeline it is given. */
  queue(slot: number, send: (pipeline: ChainableCommander) => void): QueuedCommand {
    const node = this.cluster.slots[slot]?.[0];
    if (node === undefined) {
      throw new Error(
        `Redis Cluster client has no node for hash slot ${slot} (client status ${this.cluster.status}); connect the client before use, or check CLUSTER SLOTS`,
      );
    }
    let entry = this.pipelines.get(node);
    if (entry === undefined) {
      entry = { pipeline: this.cluster.pipeline(), size: 0 };
      this.pipelines.set(node, entry);
    }
    send(entry.pipeline);
    entry.size += 1;
    return { node, index: entry.size - 1 };
  }

  /** Sends every node's pipeline at once and waits for all replies. */
  async exec(): Promise<void> {
    await Promise.all(
      [...this.pipelines].map(async ([node, { pipeline }]) => {
        this.replies.set(node, ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>);
      }),
    );
  }

  /** Returns the reply of a command after `exec`, or throws its error reply. */
  reply(command: QueuedCommand): unknown {
    const entry = this.replies.get(command.node)?.[command.index];
    if (entry === undefined) {
      throw new Error(`no reply for command ${command.index} to Redis node ${command.node}: read replies only after exec()`);
    }
    const [error, reply] = entry;
    if (error) {
      throw error;
    }
    return reply;
  }
}
