import type { ChainableCommander, Cluster } from 'ioredis';
import { keySlot } from './key-slot';
import { NodePipelines } from './node-pipelines';
import type { ReadCommandQueue } from './redis-reads';

/**
 * Read commands routed per hash slot on a Redis Cluster: single-key commands go to their slot's
 * node, and an MGET is split into one MGET per slot, whose values are put back in key order. All
 * commands leave as one pipeline per node, in parallel.
 */
export class ClusterReadQueue implements ReadCommandQueue {
  private readonly pipelines: NodePipelines;
  /** One entry per command a single Redis would have replied to, in queue order. */
  private readonly replies: Array<() => unknown> = [];

  constructor(cluster: Cluster) {
    this.pipelines = new NodePipelines(cluster);
  }

  hgetall(key: string): void {
    this.queueOne(key, (pipeline) => pipeline.hgetall(key));
  }

  lrange(key: string, start: number, stop: number): void {
    this.queueOne(key, (pipeline) => pipeline.lrange(key, start, stop));
  }

  zmscore(key: string, ...members: string[]): void {
    this.queueOne(key, (pipeline) => pipeline.zmscore(key, ...members));
  }

  zrevrange(key: string, start: number, stop: number, withScores?: 'WITHSCORES'): void {
    this.queueOne(key, (pipeline) => (withScores === undefined ? pipeline.zrevrange(key, start, stop) : pipeline.zrevrange(key, start, stop, withScores)));
  }

  get(key: string): void {
    this.queueOne(key, (pipeline) => pipeline.get(key));
  }

  mget(keys: string[]): void {
    this.queueSplit(keys, (pipeline, slotKeys) => pipeline.mget(slotKeys));
  }

  mgetBuffer(keys: string[]): void {
    this.queueSplit(keys, (pipeline, slotKeys) => pipeline.mgetBuffer(slotKeys));
  }

  /** Sends the queued commands and returns their replies in queue order. */
  async exec(): Promise<unknown[]> {
    await this.pipelines.exec();
    return this.replies.map((reply) => reply());
  }

  private queueOne(key: string, send: (pipeline: ChainableCommander) => void): void {
    const command = this.pipelines.queue(keySlot(key), send);
    this.replies.push(() => this.pipelines.reply(command));
  }

  /** Queues one multi-key command per slot and merges their array replies back into key order. */
  private queueSplit(keys: readonly string[], send: (pipeline: ChainableCommander, slotKeys: string[]) => void): void {
    const positionsBySlot = new Map<number, number[]>();
    keys.forEach((key, position) => {
      const slot = keySlot(key);
      const positions = positionsBySlot.get(slot);
      if (positions === undefined) {
        positionsBySlot.set(slot, [position]);
      } else {
        positions.push(position);
      }
    });
    const parts = [...positionsBySlot].map(([slot, positions]) => ({
      positions,
      command: this.pipelines.queue(slot, (pipeline) => send(pipeline, positions.map((position) => keys[position] as string))),
    }));
    this.replies.push(() => {
      const merged = new Array<unknown>(keys.length);
      for (const { positions, command } of parts) {
        const values = this.pipelines.reply(command) as unknown[];
        positions.forEach((position, index) => {
          merged[position] = values[index];
        });
      }
      return merged;
    });
  }
}
