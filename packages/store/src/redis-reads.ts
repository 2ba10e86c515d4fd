import type { ReadRequest, ReadResult } from '@nexttap/features';

/**
 * The Redis read commands a `ReadRequest` turns into. An ioredis pipeline implements it, and so
 * does the cluster store's per-slot router, so both stores queue and decode reads with one code path.
 */
export interface ReadCommandQueue {
  hgetall(key: string): unknown;
  lrange(key: string, start: number, stop: number): unknown;
  mget(keys: string[]): unknown;
  mgetBuffer(keys: string[]): unknown;
  zmscore(key: string, ...members: string[]): unknown;
  zrevrange(key: string, start: number, stop: number, withScores?: 'WITHSCORES'): unknown;
  get(key: string): unknown;
}

/** Queues the commands of each request, with `prefix` before every key. */
export function queueReads(queue: ReadCommandQueue, requests: readonly ReadRequest[], prefix: string): void {
  for (const request of requests) {
    queueRead(queue, request, prefix);
  }
}

/** Decodes the replies of `queueReads`, in the order the commands were queued. */
export function decodeReads(requests: readonly ReadRequest[], replies: readonly unknown[]): ReadResult[] {
  let cursor = 0;
  const take = (): unknown => replies[cursor++];
  return requests.map((request) => decodeRead(request, take));
}

function queueRead(queue: ReadCommandQueue, request: ReadRequest, prefix: string): void {
  switch (request.kind) {
    case 'hash':
      queue.hgetall(prefix + request.key);
      return;
    case 'hashes':
      for (const key of request.keys) {
        queue.hgetall(prefix + key);
      }
      return;
    case 'list':
      queue.lrange(prefix + request.key, 0, request.limit - 1);
      return;
    case 'strings':
      if (request.keys.length > 0) {
        queue.mget(request.keys.map((key) => prefix + key));
      }
      return;
    case 'snapshots':
      if (request.keys.length > 0) {
        queue.mgetBuffer(request.keys.map((key) => prefix + key));
      }
      return;
    case 'zsetScores':
      if (request.members.length > 0) {
        queue.zmscore(prefix + request.key, ...request.members);
      }
      return;
    case 'zsetTop':
      queue.zrevrange(prefix + request.key, 0, request.limit - 1, 'WITHSCORES');
      queue.get(`${prefix}${request.key}:landmark`);
      return;
    case 'zsetMembers':
      queue.zrevrange(prefix + request.key, 0, request.limit - 1);
      return;
  }
}

function decodeRead(request: ReadRequest, take: () => unknown): ReadResult {
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
    case 'zsetMembers':
      return { kind: 'zsetMembers', value: take() as string[] };
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
