import { readFileSync } from 'node:fs';
import type { PlannedWrite, ReadRequest, ReadResult, WriteOperation } from '@nexttap/features';
import type { Redis, Result } from 'ioredis';
import type { FeatureStore } from './feature-store';

const APPLY_SCRIPT = readFileSync(new URL('./apply-script.lua', import.meta.url), 'utf8');

export interface RedisFeatureStoreOptions {
  /** Prefix of every key, so that several deployments or tests share one Redis. Default ''. */
  keyPrefix?: string;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    nexttapApply(dedupKey: string, dedupTtlMs: string, operations: string): Result<number, Context>;
  }
}

/**
 * Feature store on Redis. Each event's writes run in one Lua script, so de-duplication and the
 * feature updates happen atomically; a batch of events goes out as one pipeline. The caller owns the
 * ioredis client and its timeouts.
 */
export class RedisFeatureStore implements FeatureStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisFeatureStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? '';
    if (typeof (redis as Partial<Redis>).nexttapApply !== 'function') {
      redis.defineCommand('nexttapApply', { numberOfKeys: 0, lua: APPLY_SCRIPT });
    }
  }

  async apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    if (writes.length === 0) {
      return [];
    }
    const pipeline = this.redis.pipeline();
    for (const write of writes) {
      const dedupKey = write.dedupKey === undefined ? '' : this.prefix + write.dedupKey;
      const operations = write.operations.map((operation) => this.prefixOperation(operation));
      pipeline.nexttapApply(dedupKey, String(write.dedupTtlMs ?? 0), JSON.stringify(operations));
    }
    const replies = await pipeline.exec();
    return (replies ?? []).map(([error, reply]) => {
      if (error) {
        throw error;
      }
      return reply === 1;
    });
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

  private prefixOperation(operation: WriteOperation): WriteOperation {
    return this.prefix === '' ? operation : { ...operation, key: this.prefix + operation.key };
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
