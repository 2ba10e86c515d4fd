import {
  aggregateWrites,
  halfLifeOfField,
  type AggregatedBatch,
  ZSET_LANDMARK_SUFFIX,
  LANDMARK_FIELD,
  needsRenewal,
  renewalFactor,
  type PlannedWrite,
  type ReadRequest,
  type ReadResult,
} from '@nexttap/features';
import type { FeatureStore } from './feature-store';

type Value =
  | { type: 'hash'; fields: Map<string, string> }
  | { type: 'snapshot'; values: Float64Array }
  | { type: 'zset'; scores: Map<string, number>; topCache?: { limit: number; members: Array<{ member: string; score: number }> } }
  | { type: 'list'; items: string[] }
  | { type: 'string'; text: string };

export interface MemoryFeatureStoreOptions {
  /** Clock for TTLs, in epoch ms. Replay passes the event-time clock so that TTLs follow the log. */
  now?: () => number;
  /** How often expired keys are swept, in ms; 0 turns the sweep off (expiry is still checked on read). Default 60000. */
  sweepIntervalMs?: number;
}

/**
 * In-process feature store for the embedded mode and fast replay. It merges each `apply` call's
 * writes with `aggregateWrites` and applies the merged batch in the order the Redis script does.
 */
export class MemoryFeatureStore implements FeatureStore {
  private readonly values = new Map<string, Value>();
  private readonly expiresAt = new Map<string, number>();
  private readonly now: () => number;
  private readonly sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: MemoryFeatureStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    if (sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => this.sweepExpired(), sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  async apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    const fresh = writes.map((write) => write.dedupKey === undefined || this.get(write.dedupKey) === undefined);
    const { batch, included } = aggregateWrites(writes.map((write, index) => (fresh[index] ? write : { operations: [] })));
    this.applyBatch(batch);
    return writes.map((_, index) => fresh[index] === true && included[index] === true);
  }

  async read(requests: readonly ReadRequest[]): Promise<ReadResult[]> {
    return requests.map((request) => this.readOne(request));
  }

  async close(): Promise<void> {
    if (this.sweepTimer !== undefined) {
      clearInterval(this.sweepTimer);
    }
  }

  /** Number of live keys, for memory figures and tests. */
  get size(): number {
    return this.values.size;
  }

  /** Applies a merged batch in the same order as the Redis script. */
  private applyBatch(batch: AggregatedBatch): void {
    const now = this.now();
    for (const [key, ttlMs] of batch.dedup) {
      this.values.set(key, { type: 'string', text: '1' });
      this.expiresAt.set(key, now + ttlMs);
    }
    for (const [key, field, sum, referenceMs, halfLifeMs] of batch.hashDecay) {
      this.hashDecayAdd(key, field, sum, referenceMs, halfLifeMs);
    }
    for (const [key, member, sum, referenceMs, halfLifeMs] of batch.zsetDecay) {
      this.zsetDecayAdd(key, member, sum, referenceMs, halfLifeMs);
    }
    for (const [key, member, score, mode] of batch.zsetAdd) {
      const scores = this.zset(key).scores;
      const current = scores.get(member);
      if (mode === 'set' || current === undefined || (mode === 'max' && score > current)) {
        scores.set(member, score);
      }
    }
    for (const [key, maxMembers] of batch.trims) {
      trimZset(this.zset(key).scores, maxMembers);
    }
    for (const [key, values, maxLength] of batch.lists) {
      const list = this.list(key);
      list.items.unshift(...[...values].reverse());
      list.items.length = Math.min(list.items.length, maxLength);
    }
    for (const [key, field, value] of batch.hashSet) {
      this.hash(key).fields.set(field, value);
    }
    for (const [key, field, amount] of batch.hashIncrement) {
      const fields = this.hash(key).fields;
      fields.set(field, numberText(Number(fields.get(field) ?? 0) + amount));
    }
    for (const [key, field, value] of batch.hashMax) {
      const fields = this.hash(key).fields;
      const current = fields.get(field);
      if (current === undefined || value > Number(current)) {
        fields.set(field, numberText(value));
      }
    }
    for (const [key, value] of batch.stringSet) {
      this.values.set(key, { type: 'string', text: value });
      this.expiresAt.delete(key);
    }
    for (const [key, snapshotKey, fields] of batch.snapshots) {
      this.values.set(snapshotKey, { type: 'snapshot', values: this.snapshotOf(key, fields) });
      this.expiresAt.delete(snapshotKey);
    }
    for (const [key, ttlMs] of batch.expires) {
      if (this.get(key) !== undefined) {
        this.expiresAt.set(key, now + ttlMs);
      }
    }
  }

  private hashDecayAdd(key: string, field: string, sum: number, referenceMs: number, halfLifeMs: number): void {
    const fields = this.hash(key).fields;
    let landmarkMs = Number(fields.get(LANDMARK_FIELD) ?? Number.NaN);
    if (Number.isNaN(landmarkMs)) {
      landmarkMs = referenceMs;
      fields.set(LANDMARK_FIELD, numberText(landmarkMs));
    } else if (needsRenewal(referenceMs, landmarkMs, halfLifeMs)) {
      for (const [name, text] of fields) {
        const fieldHalfLifeMs = halfLifeOfField(name);
        if (fieldHalfLifeMs !== undefined) {
          fields.set(name, numberText(Number(text) * renewalFactor(landmarkMs, referenceMs, fieldHalfLifeMs)));
        }
      }
      landmarkMs = referenceMs;
      fields.set(LANDMARK_FIELD, numberText(landmarkMs));
    }
    const added = sum * 2 ** ((referenceMs - landmarkMs) / halfLifeMs);
    fields.set(field, numberText(Number(fields.get(field) ?? 0) + added));
  }

  /** Adds to a decayed sorted set whose landmark lives in `<key>:landmark`, as in Redis. */
  private zsetDecayAdd(key: string, member: string, sum: number, referenceMs: number, halfLifeMs: number): void {
    const zset = this.zset(key);
    const landmarkKey = key + ZSET_LANDMARK_SUFFIX;
    const stored = this.get(landmarkKey);
    let landmarkMs = stored?.type === 'string' ? Number(stored.text) : undefined;
    if (landmarkMs === undefined) {
      landmarkMs = referenceMs;
      this.values.set(landmarkKey, { type: 'string', text: numberText(landmarkMs) });
    } else if (needsRenewal(referenceMs, landmarkMs, halfLifeMs)) {
      const factor = renewalFactor(landmarkMs, referenceMs, halfLifeMs);
      for (const [name, score] of zset.scores) {
        zset.scores.set(name, score * factor);
      }
      landmarkMs = referenceMs;
      this.values.set(landmarkKey, { type: 'string', text: numberText(landmarkMs) });
    }
    const added = sum * 2 ** ((referenceMs - landmarkMs) / halfLifeMs);
    zset.scores.set(member, (zset.scores.get(member) ?? 0) + added);
  }

  private snapshotOf(key: string, fields: readonly string[]): Float64Array {
    const hash = this.get(key);
    const source = hash?.type === 'hash' ? hash.fields : new Map<string, string>();
    const values = new Float64Array(fields.length + 1);
    values[0] = Number(source.get(LANDMARK_FIELD) ?? 0);
    fields.forEach((field, index) => {
      values[index + 1] = Number(source.get(field) ?? 0);
    });
    return values;
  }

  private readOne(request: ReadRequest): ReadResult {
    switch (request.kind) {
      case 'hash':
        return { kind: 'hash', value: this.readHash(request.key) };
      case 'hashes':
        return { kind: 'hashes', value: request.keys.map((key) => this.readHash(key)) };
      case 'list': {
        const value = this.get(request.key);
        return { kind: 'list', value: value?.type === 'list' ? value.items.slice(0, request.limit) : [] };
      }
      case 'strings':
        return {
          kind: 'strings',
          value: request.keys.map((key) => {
            const value = this.get(key);
            return value?.type === 'string' ? value.text : null;
          }),
        };
      case 'snapshots':
        return {
          kind: 'snapshots',
          value: request.keys.map((key) => {
            const value = this.get(key);
            return value?.type === 'snapshot' ? Float64Array.from(value.values) : null;
          }),
        };
      case 'zsetScores': {
        const value = this.get(request.key);
        const scores = value?.type === 'zset' ? value.scores : new Map<string, number>();
        return { kind: 'zsetScores', value: request.members.map((member) => scores.get(member) ?? null) };
      }
      case 'zsetTop': {
        const value = this.get(request.key);
        const landmark = this.get(request.key + ZSET_LANDMARK_SUFFIX);
        const landmarkMs = landmark?.type === 'string' ? Number(landmark.text) : 0;
        if (value?.type !== 'zset') {
          return { kind: 'zsetTop', value: [], landmarkMs };
        }
        // The ranker reads the same pools every second; between writes the top members are reused.
        if (value.topCache === undefined || value.topCache.limit !== request.limit) {
          value.topCache = { limit: request.limit, members: topMembers(value.scores, request.limit) };
        }
        return { kind: 'zsetTop', value: value.topCache.members, landmarkMs };
      }
    }
  }

  private readHash(key: string): Record<string, string> {
    const value = this.get(key);
    return value?.type === 'hash' ? Object.fromEntries(value.fields) : {};
  }

  private get(key: string): Value | undefined {
    const expiresAt = this.expiresAt.get(key);
    if (expiresAt !== undefined && expiresAt <= this.now()) {
      this.values.delete(key);
      this.expiresAt.delete(key);
      return undefined;
    }
    return this.values.get(key);
  }

  private hash(key: string): Extract<Value, { type: 'hash' }> {
    return this.getOrCreate(key, 'hash', () => ({ type: 'hash', fields: new Map() }));
  }

  /** Returns a sorted set for writing; the write invalidates its cached top members. */
  private zset(key: string): Extract<Value, { type: 'zset' }> {
    const zset = this.getOrCreate(key, 'zset', (): Extract<Value, { type: 'zset' }> => ({ type: 'zset', scores: new Map() }));
    zset.topCache = undefined;
    return zset;
  }

  private list(key: string): Extract<Value, { type: 'list' }> {
    return this.getOrCreate(key, 'list', () => ({ type: 'list', items: [] }));
  }

  private getOrCreate<T extends Value['type']>(key: string, type: T, create: () => Extract<Value, { type: T }>): Extract<Value, { type: T }> {
    const value = this.get(key);
    if (value === undefined) {
      const created = create();
      this.values.set(key, created);
      return created;
    }
    if (value.type !== type) {
      throw new Error(`key ${key} contains a ${value.type}, not a ${type}; two key families collide, so check the key layout`);
    }
    return value as Extract<Value, { type: T }>;
  }

  private sweepExpired(): void {
    const now = this.now();
    for (const [key, expiresAt] of this.expiresAt) {
      if (expiresAt <= now) {
        this.values.delete(key);
        this.expiresAt.delete(key);
      }
    }
  }
}

/** Formats a stored number; the shortest text that parses back to the same double. */
function numberText(value: number): string {
  return String(value);
}

/** Orders members as Redis ZREVRANGE does: score descending, then member descending. */
function compareDescending(a: [string, number], b: [string, number]): number {
  if (a[1] !== b[1]) {
    return b[1] - a[1];
  }
  if (a[0] === b[0]) {
    return 0;
  }
  return a[0] < b[0] ? 1 : -1;
}

/**
 * Returns the `limit` highest members in ZREVRANGE order. For a small `limit` it keeps a sorted
 * window of `limit` entries instead of sorting the whole set, because pools hold thousands of
 * members and reads take the top hundreds.
 */
function topMembers(scores: Map<string, number>, limit: number): Array<{ member: string; score: number }> {
  if (limit * 4 >= scores.size) {
    return [...scores].sort(compareDescending).slice(0, limit).map(([member, score]) => ({ member, score }));
  }
  const top: Array<[string, number]> = [];
  for (const entry of scores) {
    if (top.length === limit) {
      const last = top[limit - 1] as [string, number];
      if (compareDescending(entry, last) >= 0) {
        continue;
      }
      top.pop();
    }
    let low = 0;
    let high = top.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareDescending(top[middle] as [string, number], entry) <= 0) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    top.splice(low, 0, entry);
  }
  return top.map(([member, score]) => ({ member, score }));
}

/**
 * Removes the lowest members until the set has `maxMembers`, in Redis ZREMRANGEBYRANK order (lowest
 * score first, then the lexicographically smallest member). One write adds at most one member, so a
 * linear scan per removal is enough.
 */
function trimZset(scores: Map<string, number>, maxMembers: number): void {
  while (scores.size > maxMembers) {
    let lowest: [string, number] | undefined;
    for (const entry of scores) {
      if (lowest === undefined || entry[1] < lowest[1] || (entry[1] === lowest[1] && entry[0] < lowest[0])) {
        lowest = entry;
      }
    }
    if (lowest === undefined) {
      return;
    }
    scores.delete(lowest[0]);
  }
}
