import { readFileSync } from 'node:fs';
import { aggregateWrites, type PlannedWrite, type ReadRequest, type ReadResult } from '@nexttap/features';
import type { Redis, Result } from 'ioredis';
import type { FeatureStore } from './feature-store';
import { decodeReads, queueReads } from './redis-reads';
import { encodeScriptArgument } from './script-batch';

/** The Lua script that applies one merged batch; the cluster store runs it once per hash slot. */
export const APPLY_SCRIPT = readFileSync(new URL('./apply-script.lua', import.meta.url), 'utf8');

export interface RedisFeatureStoreOptions {
  /** Prefix of every key, so that several deployments or tests share one Redis. Default ''. */
  keyPrefix?: string;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    nexttapApplyBatch(batch: Buffer): Result<number[], Context>;
  }
}

/**
 * Feature store on a single Redis (or a replicated primary). A batch's writes are merged and run
 * in one Lua script call, so the dedup check and every feature update of the batch happen
 * atomically in one round trip. The caller owns the ioredis client and its timeouts. The script
 * writes keys of many hash slots, so Redis Cluster needs `RedisClusterFeatureStore` instead.
 */
export class RedisFeatureStore implements FeatureStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisFeatureStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? '';
    if (typeof (redis as Partial<Redis>).nexttapApplyBatch !== 'function') {
      redis.defineCommand('nexttapApplyBatch', { numberOfKeys: 0, lua: APPLY_SCRIPT });
    }
  }

  async apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    const applied = writes.map(() => false);
    // The prefix is added while encoding the merged batch, which copies far fewer objects than
    // prefixing every planned operation.
    let pending = [...writes];
    let indexes = writes.map((_, index) => index);
    // A redelivered batch meets its own dedup keys: the script then writes nothing and names them,
    // so they are dropped and the rest applied in a second call. Each loop drops at least one write.
    while (pending.length > 0) {
      const { batch, included } = aggregateWrites(pending);
      const existing = await this.redis.nexttapApplyBatch(encodeScriptArgument(batch, this.prefix));
      if (existing.length === 0) {
        included.forEach((isIncluded, position) => {
          applied[indexes[position] as number] = isIncluded;
        });
        return applied;
      }
      const duplicates = new Set(existing.map((position) => batch.writeIndexes[position - 1]));
      indexes = indexes.filter((_, position) => !duplicates.has(position));
      pending = pending.filter((_, position) => !duplicates.has(position));
    }
    return applied;
  }

  async read(requests: readonly ReadRequest[]): Promise<ReadResult[]> {
    const pipeline = this.redis.pipeline();
    queueReads(pipeline, requests, this.prefix);
    return decodeReads(requests, replyValues(await pipeline.exec()));
  }

  /**
   * Applies `writes`, then reads, in one pipeline: one socket write and one round trip instead of
   * two, and the reads see the writes. `applied` settles as `apply` would. When the script names a
   * redelivered write it changed nothing, so `apply` then runs the writes again on their own.
   */
  applyAndRead(writes: readonly PlannedWrite[], requests: readonly ReadRequest[]): { applied: Promise<boolean[]>; results: Promise<ReadResult[]> } {
    const { batch, included } = aggregateWrites(writes);
    const pipeline = this.redis.pipeline();
    pipeline.nexttapApplyBatch(encodeScriptArgument(batch, this.prefix));
    queueReads(pipeline, requests, this.prefix);
    const replies = pipeline.exec().then((entries) => entries ?? []);
    const applied = replies.then(async (entries): Promise<boolean[]> => {
      const [error, existing] = entries[0] ?? [new Error('the pipeline returned no reply for the apply script'), undefined];
      if (error) {
        throw error;
      }
      return (existing as number[]).length === 0 ? [...included] : this.apply(writes);
    });
    const results = replies.then((entries) => decodeReads(requests, replyValues(entries.slice(1))));
    return { applied, results };
  }

  async close(): Promise<void> {
    // The caller owns the client and quits it during its ordered shutdown.
  }
}

/** Returns the replies of a pipeline, or throws the first command's error. */
function replyValues(entries: ReadonlyArray<[error: Error | null, reply: unknown]> | null): unknown[] {
  return (entries ?? []).map(([error, reply]) => {
    if (error) {
      throw error;
    }
    return reply;
  });
}
