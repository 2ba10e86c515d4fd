import { readFileSync } from 'node:fs';
import { aggregateWrites, type PlannedWrite, type ReadRequest, type ReadResult } from '@nexttap/features';
import type { Redis, Result } from 'ioredis';
import type { FeatureStore } from './feature-store';

const APPLY_SCRIPT = readFileSync(new URL('./apply-script.lua', import.meta.url), 'utf8');

export interface RedisFeatureStoreOptions {
  /** Prefix of every key, so that several deployments or tests share one Redis. Default ''. */
  keyPrefix?: string;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    nexttapApplyBatch(batch: string): Result<number[], Context>;
  }
}

/**
 * Feature store on Redis. A batch's writes are merged and run in one Lua script call, so the dedup
 * check and every feature update of the batch happen atomically in one round trip. The caller owns
 * the ioredis client and its timeouts.
 *
 * NOTE: the script writes keys of many hash slots, so it runs on a single Redis (or a replicated
 * primary), not on Redis Cluster; a cluster needs the batch split per slot.
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
    let pending = writes.map((write) => this.prefixWrite(write));
    let indexes = writes.map((_, index) => index);
    // A redelivered batch meets its own dedup keys: the script then writes nothing and names them,
    // so they are dropped and the rest applied in a second call. Each loop drops at least one write.
    while (pending.length > 0) {
      const { batch, included } = aggregateWrites(pending);
      const existing = await this.redis.nexttapApplyBatch(JSON.stringify(batch));
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
    for (const request of requests) {
      this.queueRead(pipeline, request);
    }
    const replies = await pipeline.exec();
    const values = (replies ?? []).map(([error, reply]) => {
      if (error) {
        throw error;
      }
      return reply;
    });
    let cursor = 0;
    const take = (): unknown => values[cursor++];
    return requests.map((request) => this.decodeRead(request, take));
  }

  async close(): Promise<void> {
    // The caller owns the client and quits it during its ordered shutdown.
  }

  private prefixWrite(write: PlannedWrite): PlannedWrite {
    if (this.prefix === '') {
      return write;
    }
    return {
      ...write,
      ...(write.dedupKey === undefined ? {} : { dedupKey: this.prefix + write.dedupKey }),
      operations: write.operations.map((operation) =>
        operation.op === 'hashSnapshot'
          ? { ...operation, key: this.prefix + operation.key, snapshotKey: this.prefix + operation.snapshotKey }
          : { ...operation, key: this.prefix + operation.key },
      ),
    };
  }

  private queueRead(pipeline: ReturnType<Redis['pipeline']>, request: ReadRequest): void {
    const prefix = this.prefix;
    switch (request.kind) {
      case 'hash':
        pipeline.hgetall(prefix + request.key);
        return;
      case 'hashes':
        for (const key of request.keys) {
          pipeline.hgetall(prefix + key);
        }
        return;
      case 'list':
        pipeline.lrange(prefix + request.key, 0, request.limit - 1);
        return;
      case 'strings':
        if (request.keys.length > 0) {
          pipeline.mget(request.keys.map((key) => prefix + key));
        }
        return;
      case 'snapshots':
        if (request.keys.length > 0) {
          pipeline.mgetBuffer(request.keys.map((key) => prefix + key));
        }
        return;
      case 'zsetScores':
        if (request.members.length > 0) {
          pipeline.zmscore(prefix + request.key, ...request.members);
        }
        return;
      case 'zsetTop':
        pipeline.zrevrange(prefix + request.key, 0, request.limit - 1, 'WITHSCORES');
        pipeline.get(`${prefix}${request.key}:landmark`);
        return;
    }
  }

  private decodeRead(request: ReadRequest, take: () => unknown): ReadResult {
    switch (request.kind) {
      case 'hash':
        return { kind: 'hash', value: take() as Record<string, string> };
      case 'hashes':
        return { kind: 'hashes', value: request.keys.map(() => take() as Record<string, string>) };
      case 'list':
        return { kind: 'list', value: take() as string[] };
      case 'strings':
        return { kind: 'strings', value: request.keys.length > 0 ? (take() as Array<string | null>) : [] };
      case 'snapshots': {
        const buffers = request.keys.length > 0 ? (take() as Array<Buffer | null>) : [];
        return { kind: 'snapshots', value: buffers.map(decodeSnapshot) };
      }
      case 'zsetScores': {
        const scores = request.members.length > 0 ? (take() as Array<string | null>) : [];
        return { kind: 'zsetScores', value: scores.map((score) => (score === null ? null : Number(score))) };
      }
      case 'zsetTop': {
        const flat = take() as string[];
        const landmark = take() as string | null;
        const value: Array<{ member: string; score: number }> = [];
        for (let index = 0; index + 1 < flat.length; index += 2) {
          value.push({ member: flat[index] as string, score: Number(flat[index + 1]) });
        }
        return { kind: 'zsetTop', value, landmarkMs: landmark === null ? 0 : Number(landmark) };
      }
    }
  }
}

function decodeSnapshot(buffer: Buffer | null): Float64Array | null {
  if (buffer === null || buffer.length % 8 !== 0) {
    return null;
  }
  const values = new Float64Array(buffer.length / 8);
  for (let index = 0; index < values.length; index++) {
    values[index] = buffer.readDoubleLE(index * 8);
  }
  return values;
}
