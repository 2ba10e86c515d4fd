import { readFileSync } from 'node:fs';
import { aggregateWrites, type AggregatedBatch, type PlannedWrite, type ReadRequest, type ReadResult } from '@nexttap/features';
import type { Redis, Result } from 'ioredis';
import { CommandBatch, type CommandReply, type PlainWriteQueue } from './command-batch';
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
 * atomically in one round trip. A batch of only hash sets, list pushes and expiries without dedup
 * keys (`isPlainBatch`) goes as plain pipelined commands instead. The caller owns the ioredis
 * client and its timeouts. The script writes keys of many hash slots, so Redis Cluster needs `RedisClusterFeatureStore` instead.
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
      let existing: number[] = [];
      if (isPlainBatch(batch)) {
        const commands = new CommandBatch(this.redis);
        queuePlainWrites(commands, batch, this.prefix);
        replyValues(await commands.exec());
      } else {
        existing = await this.redis.nexttapApplyBatch(encodeScriptArgument(batch, this.prefix));
      }
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
    const commands = new CommandBatch(this.redis);
    queueReads(commands, requests, this.prefix);
    return decodeReads(requests, replyValues(await commands.exec()));
  }

  /**
   * Applies `writes`, then reads, in one `CommandBatch`: one socket write and one round trip instead of
   * two, and the reads see the writes. `applied` settles as `apply` would. When the script names a
   * redelivered write it changed nothing, so `apply` then runs the writes again on their own.
   */
  applyAndRead(writes: readonly PlannedWrite[], requests: readonly ReadRequest[]): { applied: Promise<boolean[]>; results: Promise<ReadResult[]> } {
    const { batch, included } = aggregateWrites(writes);
    if (isPlainBatch(batch)) {
      const commands = new CommandBatch(this.redis);
      const writeCount = queuePlainWrites(commands, batch, this.prefix);
      queueReads(commands, requests, this.prefix);
      const replies = commands.exec();
      return {
        applied: replies.then((entries) => {
          replyValues(entries.slice(0, writeCount));
          return [...included];
        }),
        results: replies.then((entries) => decodeReads(requests, replyValues(entries.slice(writeCount)))),
      };
    }
    const commands = new CommandBatch(this.redis);
    const argument = encodeScriptArgument(batch, this.prefix);
    commands.call((redis) => redis.nexttapApplyBatch(argument));
    queueReads(commands, requests, this.prefix);
    const replies = commands.exec();
    const applied = replies.then(async (entries): Promise<boolean[]> => {
      const [error, existing] = entries[0] ?? [new Error('the batch returned no reply for the apply script'), undefined];
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

/**
 * Tells whether a batch contains only hash field sets, list pushes and expiries, without dedup keys:
 * the served-feed records the ranker writes for every feed. Such a batch needs none of the apply
 * script's work, so it goes as plain commands. That saves encoding the batch as
 * MessagePack and decoding it in Lua.
 */
function isPlainBatch(batch: AggregatedBatch): boolean {
  return (
    batch.dedup.length === 0 &&
    batch.hashDecay.keys.length === 0 &&
    batch.packedDecay.keys.length === 0 &&
    batch.zsetDecay.keys.length === 0 &&
    batch.zsetAdd.length === 0 &&
    batch.trims.length === 0 &&
    batch.hashIncrement.length === 0 &&
    batch.hashMax.length === 0 &&
    batch.stringSet.length === 0 &&
    batch.snapshots.length === 0
  );
}

/**
 * Queues the commands of a plain batch (`isPlainBatch`) in the order the apply script runs them:
 * list pushes with their trims, hash sets (one HSET per key), then expiries. Returns the number of
 * commands queued. Unlike the script they are not atomic: another client may read between them,
 * for instance a list one value longer than its bound, which readers cut to their own limit.
 */
function queuePlainWrites(queue: PlainWriteQueue, batch: AggregatedBatch, prefix: string): number {
  let commands = 0;
  for (const [key, values, maxLength] of batch.lists) {
    queue.lpush(prefix + key, ...values);
    queue.ltrim(prefix + key, 0, maxLength - 1);
    commands += 2;
  }
  let index = 0;
  while (index < batch.hashSet.length) {
    const key = (batch.hashSet[index] as AggregatedBatch['hashSet'][number])[0];
    const fieldsAndValues: string[] = [];
    for (; index < batch.hashSet.length && (batch.hashSet[index] as AggregatedBatch['hashSet'][number])[0] === key; index++) {
      const [, field, value] = batch.hashSet[index] as AggregatedBatch['hashSet'][number];
      fieldsAndValues.push(field, value);
    }
    queue.hset(prefix + key, ...fieldsAndValues);
    commands += 1;
  }
  for (const [key, ttlMs] of batch.expires) {
    queue.pexpire(prefix + key, ttlMs);
    commands += 1;
  }
  return commands;
}

/** Returns the replies of a pipeline or a `CommandBatch`, or throws the first command's error. */
function replyValues(entries: readonly CommandReply[] | null): unknown[] {
  return (entries ?? []).map(([error, reply]) => {
    if (error) {
      throw error;
    }
    return reply;
  });
}
