import {
  halfLifeOfField,
  LANDMARK_FIELD,
  needsRenewal,
  renewalFactor,
  type PlannedWrite,
  type ReadRequest,
  type ReadResult,
  type WriteOperation,
} from '@nexttap/features';
import type { FeatureStore } from './feature-store';

type Value =
  | { type: 'hash'; fields: Map<string, string> }
  | { type: 'zset'; scores: Map<string, number>; landmarkMs?: number }
  | { type: 'list'; items: string[] }
  | { type: 'string'; text: string };

export interface MemoryFeatureStoreOptions {
  /** Clock for TTLs, in epoch ms. Replay passes the event-time clock so that TTLs follow the log. */
  now?: () => number;
  /** How often expired keys are swept, in ms; 0 turns the sweep off (expiry is still checked on read). Default 60000. */
  sweepIntervalMs?: number;
}

/**
 * In-process feature store for the embedded mode and fast replay. It applies writes in the order
 * given, one event at a time, so each event is atomic as in Redis.
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
    return writes.map((write) => this.applyOne(write));
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

  private applyOne(write: PlannedWrite): boolean {
    if (write.dedupKey !== undefined) {
      if (this.get(write.dedupKey) !== undefined) {
        return false;
      }
      this.values.set(write.dedupKey, { type: 'string', text: '1' });
      this.expiresAt.set(write.dedupKey, this.now() + (write.dedupTtlMs ?? 0));
    }
    for (const operation of write.operations) {
      this.applyOperation(operation);
    }
    return true;
  }

  private applyOperation(operation: WriteOperation): void {
    switch (operation.op) {
      case 'hashDecayAdd':
        return this.hashDecayAdd(operation);
      case 'zsetDecayAdd':
        return this.zsetDecayAdd(operation);
      case 'zsetAdd': {
        const zset = this.zset(operation.key);
        const current = zset.scores.get(operation.member);
        if (operation.mode === 'set' || current === undefined || (operation.mode === 'max' && operation.score > current)) {
          zset.scores.set(operation.member, operation.score);
        }
        return trimZset(zset.scores, operation.maxMembers);
      }
      case 'listPush': {
        const list = this.list(operation.key);
        list.items.unshift(operation.value);
        list.items.length = Math.min(list.items.length, operation.maxLength);
        return;
      }
      case 'hashSet':
        this.hash(operation.key).fields.set(operation.field, operation.value);
        return;
      case 'hashIncrement': {
        const fields = this.hash(operation.key).fields;
        fields.set(operation.field, String(Number(fields.get(operation.field) ?? 0) + operation.amount));
        return;
      }
      case 'hashMax': {
        const fields = this.hash(operation.key).fields;
        const current = fields.get(operation.field);
        if (current === undefined || operation.value > Number(current)) {
          fields.set(operation.field, String(operation.value));
        }
        return;
      }
      case 'stringSet':
        this.values.set(operation.key, { type: 'string', text: operation.value });
        this.expiresAt.delete(operation.key);
        return;
      case 'expire':
        if (this.values.has(operation.key)) {
          this.expiresAt.set(operation.key, this.now() + operation.ttlMs);
        }
        return;
    }
  }

  private hashDecayAdd(operation: Extract<WriteOperation, { op: 'hashDecayAdd' }>): void {
    const fields = this.hash(operation.key).fields;
    const halfLifeMs = requireHalfLife(operation.field);
    let landmarkMs = Number(fields.get(LANDMARK_FIELD) ?? Number.NaN);
    if (Number.isNaN(landmarkMs)) {
      landmarkMs = operation.tMs;
      fields.set(LANDMARK_FIELD, String(landmarkMs));
    } else if (needsRenewal(operation.tMs, landmarkMs, halfLifeMs)) {
      for (const [field, text] of fields) {
        const fieldHalfLifeMs = halfLifeOfField(field);
        if (fieldHalfLifeMs !== undefined) {
          fields.set(field, String(Number(text) * renewalFactor(landmarkMs, operation.tMs, fieldHalfLifeMs)));
        }
      }
      landmarkMs = operation.tMs;
      fields.set(LANDMARK_FIELD, String(landmarkMs));
    }
    const added = operation.weight * 2 ** ((operation.tMs - landmarkMs) / halfLifeMs);
    fields.set(operation.field, String(Number(fields.get(operation.field) ?? 0) + added));
  }

  private zsetDecayAdd(operation: Extract<WriteOperation, { op: 'zsetDecayAdd' }>): void {
    const zset = this.zset(operation.key);
    if (zset.landmarkMs === undefined) {
      zset.landmarkMs = operation.tMs;
    } else if (needsRenewal(operation.tMs, zset.landmarkMs, operation.halfLifeMs)) {
      const factor = renewalFactor(zset.landmarkMs, operation.tMs, operation.halfLifeMs);
      for (const [member, score] of zset.scores) {
        zset.scores.set(member, score * factor);
      }
      zset.landmarkMs = operation.tMs;
    }
    const added = operation.weight * 2 ** ((operation.tMs - zset.landmarkMs) / operation.halfLifeMs);
    zset.scores.set(operation.member, (zset.scores.get(operation.member) ?? 0) + added);
    trimZset(zset.scores, operation.maxMembers);
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
      case 'zsetTop': {
        const value = this.get(request.key);
        if (value?.type !== 'zset') {
          return { kind: 'zsetTop', value: [], landmarkMs: 0 };
        }
        return { kind: 'zsetTop', value: topMembers(value.scores, request.limit), landmarkMs: value.landmarkMs ?? 0 };
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

  private zset(key: string): Extract<Value, { type: 'zset' }> {
    return this.getOrCreate(key, 'zset', () => ({ type: 'zset', scores: new Map() }));
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
      throw new Error(`key ${key} holds a ${value.type}, not a ${type}; the key layout has a collision`);
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

function requireHalfLife(field: string): number {
  const halfLifeMs = halfLifeOfField(field);
  if (halfLifeMs === undefined) {
    throw new Error(`decayed field ${field} has no half-life suffix; build its name with decayedField()`);
  }
  return halfLifeMs;
}

/** Orders members as Redis ZREVRANGE does: score descending, then member descending. */
function compareDescending(a: [string, number], b: [string, number]): number {
  if (a[1] !== b[1]) {
    return b[1] - a[1];
  }
  return a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0;
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
