import {
  aggregateWrites,
  halfLifeOfField,
  INTEGER_RENEW_EXPONENT,
  RENEW_EXPONENT,
  type AggregatedBatch,
  type DecayEntries,
  ZSET_LANDMARK_SUFFIX,
  LANDMARK_FIELD,
  needsRenewal,
  renewalFactor,
  type PlannedWrite,
  type ReadRequest,
  type ReadResult,
} from '@nexttap/features';
import type { FeatureStore } from './feature-store';
import { MemoryBudget } from './memory-eviction';
import { estimateEntryBytes } from './memory-size';

/**
 * A stored value and the time it expires, in epoch ms (infinite without a TTL). Hash fields keep
 * numbers as numbers and are formatted on read, which gives the same text as formatting on write
 * because `String` returns the shortest text that parses back to the same double.
 */
type Value = { expiresAtMs: number } & (
  | { type: 'hash'; fields: Map<string, string | number> }
  | { type: 'snapshot'; values: Float64Array }
  | {
      type: 'zset';
      scores: Map<string, MemberScore>;
      /** Sum of the members' lengths, for the memory estimate. */
      memberChars: number;
      topCache?: TopCache;
      /** `<key>:landmark`, built once, so that the string's hash is computed once. */
      landmarkKey?: string;
    }
  | { type: 'list'; items: string[] }
  /** `numeric` caches `Number(text)` for landmark keys, which every decayed addition reads. */
  | { type: 'string'; text: string; numeric?: number }
);

export type StoredValue = Value;

/** The outcome of one write batch's eviction, for metrics and logs. */
export interface MemoryEviction {
  /** Live keys removed to get under the limit; expired keys removed on the way are not counted. */
  evictedKeys: number;
  /** Estimated bytes after the eviction; above `maxBytes` when only keys that are never evicted remain. */
  estimatedBytes: number;
  maxBytes: number;
}

export interface MemoryFeatureStoreOptions {
  /** Clock for TTLs, in epoch ms. Replay passes the event-time clock so that TTLs follow the log. */
  now?: () => number;
  /** How often expired keys are swept, in ms; 0 turns the sweep off (expiry is still checked on read). Default 60000. */
  sweepIntervalMs?: number;
  /**
   * Limit on the estimated bytes of the stored keys and values. Past it, each write batch evicts
   * keys until the estimate is back under it, in the order that `EVICTION_TIERS` documents.
   * Default: no limit, and no size estimate is kept.
   */
  maxBytes?: number;
  /** Called after a write batch that evicted keys or left the estimate over `maxBytes`. */
  onEviction?: (eviction: MemoryEviction) => void;
}

/**
 * In-process feature store for the embedded mode and fast replay. It merges each `apply` call's
 * writes with `aggregateWrites` and applies the merged batch in the order the Redis script does.
 */
export class MemoryFeatureStore implements FeatureStore {
  private readonly values = new Map<string, Value>();
  private readonly now: () => number;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private readonly maxBytes: number;
  private readonly onEviction: ((eviction: MemoryEviction) => void) | undefined;
  /** Sizes and eviction order of the keys; only with `maxBytes`. */
  private readonly budget: MemoryBudget | undefined;
  /** Keys written by the current batch, whose size is estimated again at its end; only with `maxBytes`. */
  private readonly written: Set<string> | undefined;

  constructor(options: MemoryFeatureStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    if (!(this.maxBytes > 0)) {
      throw new Error(`maxBytes is ${options.maxBytes}; set a positive number of bytes, or leave it out for no limit`);
    }
    this.onEviction = options.onEviction;
    if (options.maxBytes !== undefined) {
      this.budget = new MemoryBudget();
      this.written = new Set();
    }
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
    this.enforceMaxBytes();
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

  /** Number of stored keys, expired ones included until a read or a sweep removes them; for memory figures and tests. */
  get size(): number {
    return this.values.size;
  }

  /** Estimated bytes of the stored keys and values, or undefined for a store without `maxBytes`. */
  get estimatedBytes(): number | undefined {
    return this.budget?.estimatedBytes;
  }

  /**
   * Returns when a key expires, in epoch ms of the store's clock: infinite for a key without a TTL
   * and undefined for a missing or expired key. A replay that keeps copies of values uses it to
   * know how long a copy equals what a read would return.
   * NOTE: with `maxBytes` a key can be evicted before then.
   */
  expiresAtMs(key: string): number | undefined {
    return this.get(key)?.expiresAtMs;
  }

  /**
   * Removes every key whose TTL has run out by the store's clock. The timer calls it; a caller that
   * runs the store on its own clock (replay) may call it to keep memory bounded.
   */
  sweepExpired(): void {
    const now = this.now();
    // `forEach` rather than `for...of`, which allocates a pair per key, and a sweep visits every
    // key of the store. Deleting the visited key during `forEach` is allowed.
    this.values.forEach((value, key) => {
      if (value.expiresAtMs <= now) {
        this.values.delete(key);
        this.budget?.forget(key);
      }
    });
  }

  /** Estimates the size of the keys the batch wrote, then evicts until the estimate is under `maxBytes`. */
  private enforceMaxBytes(): void {
    const budget = this.budget;
    const written = this.written;
    if (budget === undefined || written === undefined) {
      return;
    }
    written.forEach((key) => {
      const value = this.values.get(key);
      if (value === undefined) {
        budget.forget(key);
      } else {
        budget.record(key, estimateEntryBytes(key, value));
      }
    });
    written.clear();
    if (budget.estimatedBytes <= this.maxBytes) {
      return;
    }
    const now = this.now();
    let evictedKeys = 0;
    while (budget.estimatedBytes > this.maxBytes) {
      const unit = budget.nextToEvict();
      if (unit === undefined) {
        break;
      }
      // A copy, because forgetting a key removes it from `unit.keys`.
      for (const key of unit.keys.slice()) {
        const value = this.values.get(key);
        this.values.delete(key);
        budget.forget(key);
        if (value !== undefined && value.expiresAtMs > now) {
          evictedKeys += 1;
        }
      }
    }
    this.onEviction?.({ evictedKeys, estimatedBytes: budget.estimatedBytes, maxBytes: this.maxBytes });
  }

  /** Stores a value, for a write: every write goes through here or `getOrCreate`. */
  private setValue(key: string, value: Value): void {
    this.values.set(key, value);
    this.written?.add(key);
  }

  /** Applies a merged batch in the same order as the Redis script. */
  private applyBatch(batch: AggregatedBatch): void {
    const now = this.now();
    for (const [key, ttlMs] of batch.dedup) {
      this.setValue(key, { type: 'string', text: '1', expiresAtMs: now + ttlMs });
    }
    const { hashDecay, packedDecay, zsetDecay } = batch;
    let first = 0;
    // Each key is looked up once for all of its entries: a batch of 100 events adds to the global
    // counters 100 times, and every lookup in a store of 100,000 keys is likely a cache miss.
    hashDecay.keys.forEach((key, index) => {
      const fields = this.hash(key).fields;
      const end = first + (hashDecay.counts[index] as number);
      for (let entry = first; entry < end; entry++) {
        hashDecayAdd(fields, hashDecay.names[entry] as string, hashDecay.sums[entry] as number, hashDecay.referencesMs[entry] as number, hashDecay.halfLivesMs[entry] as number);
      }
      first = end;
    });
    first = 0;
    packedDecay.keys.forEach((key, index) => {
      const count = packedDecay.counts[index] as number;
      this.applyPackedDecay(key, packedDecay.layouts[index] as readonly string[], packedDecay, first, first + count);
      first += count;
    });
    first = 0;
    zsetDecay.keys.forEach((key, index) => {
      const end = first + (zsetDecay.counts[index] as number);
      this.applyZsetDecay(key, zsetDecay, first, end, zsetDecay.integerScales[index] as number);
      first = end;
    });
    for (const [key, member, score, mode] of batch.zsetAdd) {
      const zset = this.zsetKeepingTop(key);
      const current = zset.scores.get(member);
      if (current === undefined) {
        zset.scores.set(member, { score });
        zset.memberChars += member.length;
        updateTopCache(zset, member, true, score);
      } else if (mode === 'set' || (mode === 'max' && score > current.score)) {
        current.score = score;
        updateTopCache(zset, member, false, score);
      }
    }
    for (const [key, maxMembers] of batch.trims) {
      const zset = this.zsetKeepingTop(key);
      if (zset.scores.size > maxMembers) {
        zset.topCache = undefined;
        zset.memberChars -= trimZset(zset.scores, maxMembers);
      }
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
      fields.set(field, numberOf(fields.get(field) ?? 0) + amount);
    }
    for (const [key, field, value] of batch.hashMax) {
      const fields = this.hash(key).fields;
      const current = fields.get(field);
      if (current === undefined || value > numberOf(current)) {
        fields.set(field, value);
      }
    }
    for (const [key, value] of batch.stringSet) {
      this.setValue(key, { type: 'string', text: value, expiresAtMs: Number.POSITIVE_INFINITY });
    }
    for (const [key, snapshotKey, fields] of batch.snapshots) {
      this.setValue(snapshotKey, { type: 'snapshot', values: this.snapshotOf(key, fields), expiresAtMs: Number.POSITIVE_INFINITY });
    }
    for (const [key, ttlMs] of batch.expires) {
      const value = this.get(key);
      if (value !== undefined) {
        value.expiresAtMs = now + ttlMs;
      }
    }
  }

  /**
   * Adds to a packed decayed record as the Redis script does: the entries in order, with the
   * landmark and renewal rules of a decayed hash, into a new array, because readers may hold the
   * stored one.
   */
  private applyPackedDecay(key: string, fields: readonly string[], entries: DecayEntries<number>, first: number, end: number): void {
    const values = new Float64Array(fields.length + 1);
    const halfLives = packedHalfLivesOf(fields);
    const stored = this.get(key);
    let landmarkMs: number | undefined;
    if (stored !== undefined) {
      if (stored.type !== 'snapshot' || stored.values.length !== values.length) {
        throw new Error(`key ${key} does not contain a packed record of ${fields.length} fields; two key families collide or the layout changed`);
      }
      values.set(stored.values);
      landmarkMs = stored.values[0];
    }
    for (let entry = first; entry < end; entry++) {
      const fieldIndex = entries.names[entry] as number;
      const sum = entries.sums[entry] as number;
      const referenceMs = entries.referencesMs[entry] as number;
      const halfLifeMs = entries.halfLivesMs[entry] as number;
      if (landmarkMs === undefined) {
        landmarkMs = referenceMs;
      } else if (needsRenewal(referenceMs, landmarkMs, halfLifeMs)) {
        const factors = halfLives.distinctMs.map((fieldHalfLifeMs) => renewalFactor(landmarkMs as number, referenceMs, fieldHalfLifeMs));
        for (let position = 0; position < fields.length; position++) {
          values[position + 1] = (values[position + 1] as number) * (factors[halfLives.slots[position] as number] as number);
        }
        landmarkMs = referenceMs;
      }
      values[fieldIndex + 1] = (values[fieldIndex + 1] as number) + sum * 2 ** ((referenceMs - landmarkMs) / halfLifeMs);
    }
    values[0] = landmarkMs as number;
    // As Redis SET does, the write clears the TTL, and the batch's expiries set it again.
    this.setValue(key, { type: 'snapshot', values, expiresAtMs: Number.POSITIVE_INFINITY });
  }

  /**
   * Adds the entries from `first` to `end` to a decayed sorted set whose landmark lives in
   * `<key>:landmark`, as in Redis. With an `integerScale` above 0 the additions and a renewal's
   * rescaled scores are rounded to integers.
   */
  private applyZsetDecay(key: string, entries: DecayEntries<string>, first: number, end: number, integerScale: number): void {
    const zset = this.zset(key);
    const landmarkKey = (zset.landmarkKey ??= key + ZSET_LANDMARK_SUFFIX);
    const stored = this.get(landmarkKey);
    // Kept across the entries, as a read of the landmark key after each entry would return it.
    let landmarkMs = stored?.type === 'string' ? (stored.numeric ??= Number(stored.text)) : undefined;
    for (let entry = first; entry < end; entry++) {
      const referenceMs = entries.referencesMs[entry] as number;
      const halfLifeMs = entries.halfLivesMs[entry] as number;
      if (landmarkMs === undefined) {
        landmarkMs = referenceMs;
        this.setLandmark(landmarkKey, landmarkMs);
      } else if (needsRenewal(referenceMs, landmarkMs, halfLifeMs, integerScale > 0 ? INTEGER_RENEW_EXPONENT : RENEW_EXPONENT)) {
        const factor = renewalFactor(landmarkMs, referenceMs, halfLifeMs);
        // One callback per kind of score rather than a test per member: the MovieLens replay
        // rescales the trending pool, of thousands of members, about 640 times.
        if (integerScale > 0) {
          zset.scores.forEach((cell) => {
            cell.score = Math.floor(cell.score * factor + 0.5);
          });
        } else {
          zset.scores.forEach((cell) => {
            cell.score = cell.score * factor;
          });
        }
        landmarkMs = referenceMs;
        this.setLandmark(landmarkKey, landmarkMs);
      }
      let added = (entries.sums[entry] as number) * 2 ** ((referenceMs - landmarkMs) / halfLifeMs);
      if (integerScale > 0) {
        added = Math.floor(added * integerScale + 0.5);
      }
      const member = entries.names[entry] as string;
      const current = zset.scores.get(member);
      if (current === undefined) {
        zset.scores.set(member, { score: 0 + added });
        zset.memberChars += member.length;
      } else {
        current.score += added;
      }
    }
  }

  /** Stores a sorted set's landmark as Redis SET does: a new value without a TTL. */
  private setLandmark(landmarkKey: string, landmarkMs: number): void {
    this.setValue(landmarkKey, { type: 'string', text: numberText(landmarkMs), numeric: landmarkMs, expiresAtMs: Number.POSITIVE_INFINITY });
  }

  private snapshotOf(key: string, fields: readonly string[]): Float64Array {
    const hash = this.get(key);
    const values = new Float64Array(fields.length + 1);
    if (hash?.type !== 'hash') {
      return values;
    }
    const source = hash.fields;
    values[0] = numberOf(source.get(LANDMARK_FIELD) ?? 0);
    for (let index = 0; index < fields.length; index++) {
      values[index + 1] = numberOf(source.get(fields[index] as string) ?? 0);
    }
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
      case 'strings': {
        const texts: Array<string | null> = new Array(request.keys.length);
        for (let index = 0; index < texts.length; index++) {
          const value = this.get(request.keys[index] as string);
          texts[index] = value?.type === 'string' ? value.text : null;
        }
        return { kind: 'strings', value: texts };
      }
      case 'snapshots': {
        const snapshots: Array<Float64Array | null> = new Array(request.keys.length);
        for (let index = 0; index < snapshots.length; index++) {
          const value = this.get(request.keys[index] as string);
          // The stored array itself, not a copy: a write stores a new array and never changes
          // this one, and readers treat snapshots as read-only. A copy cost one typed array per
          // candidate of every ranked feed (up to 400).
          snapshots[index] = value?.type === 'snapshot' ? value.values : null;
        }
        return { kind: 'snapshots', value: snapshots };
      }
      case 'zsetScores': {
        const value = this.get(request.key);
        const scores: Array<number | null> = new Array(request.members.length).fill(null);
        if (value?.type === 'zset') {
          for (let index = 0; index < scores.length; index++) {
            scores[index] = value.scores.get(request.members[index] as string)?.score ?? null;
          }
        }
        return { kind: 'zsetScores', value: scores };
      }
      case 'zsetTop': {
        const value = this.get(request.key);
        const landmark = this.get(request.key + ZSET_LANDMARK_SUFFIX);
        const landmarkMs = landmark?.type === 'string' ? (landmark.numeric ??= Number(landmark.text)) : 0;
        if (value?.type !== 'zset') {
          return { kind: 'zsetTop', value: [], landmarkMs };
        }
        // The ranker reads the same pools every second; between writes the top members are reused.
        if (value.topCache === undefined || value.topCache.limit !== request.limit) {
          value.topCache = { limit: request.limit, members: topMembers(value.scores, request.limit), shared: false };
        }
        value.topCache.shared = true;
        return { kind: 'zsetTop', value: value.topCache.members, landmarkMs };
      }
      case 'zsetMembers': {
        const value = this.get(request.key);
        if (value?.type !== 'zset') {
          return { kind: 'zsetMembers', value: [] };
        }
        if (value.topCache === undefined || value.topCache.limit !== request.limit) {
          value.topCache = { limit: request.limit, members: topMembers(value.scores, request.limit), shared: false };
        }
        value.topCache.memberIds ??= value.topCache.members.map((entry) => entry.member);
        value.topCache.memberIdsShared = true;
        return { kind: 'zsetMembers', value: value.topCache.memberIds };
      }
    }
  }

  private readHash(key: string): Record<string, string> {
    const value = this.get(key);
    const record: Record<string, string> = {};
    if (value?.type === 'hash') {
      for (const [field, stored] of value.fields) {
        record[field] = typeof stored === 'number' ? numberText(stored) : stored;
      }
    }
    return record;
  }

  /** Returns the live value of a key, removing it when its TTL has run out. */
  private get(key: string): Value | undefined {
    const value = this.values.get(key);
    if (value !== undefined && value.expiresAtMs !== Number.POSITIVE_INFINITY && value.expiresAtMs <= this.now()) {
      this.values.delete(key);
      this.budget?.forget(key);
      return undefined;
    }
    return value;
  }

  private hash(key: string): Extract<Value, { type: 'hash' }> {
    return this.getOrCreate(key, 'hash', () => ({ type: 'hash', fields: new Map(), expiresAtMs: Number.POSITIVE_INFINITY }));
  }

  /** Returns a sorted set for writing; the write invalidates its cached top members. */
  private zset(key: string): ZsetValue {
    const zset = this.zsetKeepingTop(key);
    zset.topCache = undefined;
    return zset;
  }

  /** Returns a sorted set for a write that keeps its cached top members up to date itself. */
  private zsetKeepingTop(key: string): ZsetValue {
    return this.getOrCreate(key, 'zset', (): ZsetValue => ({ type: 'zset', scores: new Map(), memberChars: 0, expiresAtMs: Number.POSITIVE_INFINITY }));
  }

  private list(key: string): Extract<Value, { type: 'list' }> {
    return this.getOrCreate(key, 'list', () => ({ type: 'list', items: [], expiresAtMs: Number.POSITIVE_INFINITY }));
  }

  private getOrCreate<T extends Value['type']>(key: string, type: T, create: () => Extract<Value, { type: T }>): Extract<Value, { type: T }> {
    const value = this.get(key);
    if (value === undefined) {
      const created = create();
      this.values.set(key, created);
      this.written?.add(key);
      return created;
    }
    this.written?.add(key);
    if (value.type !== type) {
      throw new Error(`key ${key} contains a ${value.type}, not a ${type}; two key families collide, so check the key layout`);
    }
    return value as Extract<Value, { type: T }>;
  }
}

type ZsetValue = Extract<Value, { type: 'zset' }>;

/**
 * The half-lives of a packed record's fields: the distinct ones, and for each field its index in
 * them. A renewal computes one factor per distinct half-life (four for the item records, which
 * have 24 fields) instead of parsing each field's name and computing a factor per field.
 */
interface PackedHalfLives {
  distinctMs: number[];
  slots: Int32Array;
}

const packedHalfLives = new WeakMap<readonly string[], PackedHalfLives>();

/** The entry found last: every item record of a replay or ingest batch has the same fields array. */
let lastPackedHalfLives: { fields: readonly string[]; halfLives: PackedHalfLives } | undefined;

function packedHalfLivesOf(fields: readonly string[]): PackedHalfLives {
  if (lastPackedHalfLives?.fields === fields) {
    return lastPackedHalfLives.halfLives;
  }
  let halfLives = packedHalfLives.get(fields);
  if (halfLives === undefined) {
    const distinctMs: number[] = [];
    const slots = new Int32Array(fields.length);
    fields.forEach((field, position) => {
      // Planning rejects a packed field without a half-life, so `undefined` does not occur here.
      const halfLifeMs = halfLifeOfField(field) as number;
      let slot = distinctMs.indexOf(halfLifeMs);
      if (slot < 0) {
        slot = distinctMs.length;
        distinctMs.push(halfLifeMs);
      }
      slots[position] = slot;
    });
    halfLives = { distinctMs, slots };
    packedHalfLives.set(fields, halfLives);
  }
  lastPackedHalfLives = { fields, halfLives };
  return halfLives;
}

/**
 * A member's score in a mutable cell, so that an update is one map lookup and allocates nothing,
 * and a landmark renewal rescales the cells without a lookup per member. The popular and trending
 * pools hold up to 10,000 members each.
 */
interface MemberScore {
  score: number;
}

/** A sorted set's top members as a read returned them. */
interface TopCache {
  limit: number;
  members: Array<{ member: string; score: number }>;
  /** True once a read has returned `members`, which then belongs to the reader and stays unchanged. */
  shared: boolean;
  /**
   * The members' ids alone, in the order of `members`: built by the first members-only read and
   * then kept in step with `members` by `updateTopCache`.
   */
  memberIds?: string[];
  /** True once a read has returned `memberIds`, which then belongs to the reader and stays unchanged. */
  memberIdsShared?: boolean;
}

/**
 * Updates the cached top members after one member's score was set. A cache that lists every
 * member stays exact: the member moves to its place, and the list is cut to the cached limit.
 * Any other cache is dropped. Session and user sets gain one member per event and are read whole
 * at every evaluation point of a replay, so this saves sorting up to 2,000 members each time.
 */
function updateTopCache(zset: ZsetValue, member: string, added: boolean, score: number): void {
  const cache = zset.topCache;
  if (cache === undefined) {
    return;
  }
  const membersBefore = zset.scores.size - (added ? 1 : 0);
  if (cache.members.length !== membersBefore) {
    zset.topCache = undefined;
    return;
  }
  // A reader may still hold a shared array, so it is copied. An unshared one is changed in place:
  // a user's set of up to 2,000 members gains one per event and is read only at evaluation points.
  const members = cache.shared ? cache.members.slice() : cache.members;
  // The ids change with the members, so that a members-only read need not rebuild them: a user's
  // interacted set of up to 2,000 members is read whole at every evaluation point of a replay.
  // Copying the ids reads no entry, where rebuilding them reads every one.
  let memberIds = cache.memberIds;
  if (memberIds !== undefined && cache.memberIdsShared === true) {
    memberIds = memberIds.slice();
  }
  if (!added) {
    const index = members.findIndex((entry) => entry.member === member);
    if (index >= 0) {
      members.splice(index, 1);
      memberIds?.splice(index, 1);
    }
  }
  let low = 0;
  let high = members.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const other = members[middle] as { member: string; score: number };
    if (compareDescending(other.member, other.score, member, score) <= 0) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  members.splice(low, 0, { member, score });
  memberIds?.splice(low, 0, member);
  if (members.length > cache.limit) {
    members.length = cache.limit;
    if (memberIds !== undefined) {
      memberIds.length = cache.limit;
    }
  }
  cache.members = members;
  cache.shared = false;
  cache.memberIds = memberIds;
  cache.memberIdsShared = false;
}

/** Adds to a field of a decayed hash as the Redis script does: the landmark and renewal rules of `LANDMARK_FIELD`. */
function hashDecayAdd(fields: Map<string, string | number>, field: string, sum: number, referenceMs: number, halfLifeMs: number): void {
  const stored = fields.get(LANDMARK_FIELD);
  let landmarkMs = stored === undefined ? Number.NaN : numberOf(stored);
  if (Number.isNaN(landmarkMs)) {
    landmarkMs = referenceMs;
    fields.set(LANDMARK_FIELD, landmarkMs);
  } else if (needsRenewal(referenceMs, landmarkMs, halfLifeMs)) {
    for (const [name, value] of fields) {
      const fieldHalfLifeMs = halfLifeOfField(name);
      if (fieldHalfLifeMs !== undefined) {
        fields.set(name, numberOf(value) * renewalFactor(landmarkMs, referenceMs, fieldHalfLifeMs));
      }
    }
    landmarkMs = referenceMs;
    fields.set(LANDMARK_FIELD, landmarkMs);
  }
  const added = sum * 2 ** ((referenceMs - landmarkMs) / halfLifeMs);
  fields.set(field, numberOf(fields.get(field) ?? 0) + added);
}

/** Reads a hash field as a number, as Redis reads a field's text as a double. */
function numberOf(value: string | number): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Formats a stored number; the shortest text that parses back to the same double. */
function numberText(value: number): string {
  return String(value);
}

/**
 * Orders members as Redis ZREVRANGE does: score descending, then member descending. Members and
 * scores come apart, so that no pair is built per comparison.
 */
function compareDescending(memberA: string, scoreA: number, memberB: string, scoreB: number): number {
  if (scoreA !== scoreB) {
    // -1 or 1 rather than the difference, because a fractional result makes V8 allocate a heap
    // number per comparison of a sort. A NaN score compares equal, as a NaN difference did.
    if (scoreB > scoreA) {
      return 1;
    }
    if (scoreB < scoreA) {
      return -1;
    }
    return 0;
  }
  if (memberA === memberB) {
    return 0;
  }
  return memberA < memberB ? 1 : -1;
}

/**
 * Returns the `limit` highest members in ZREVRANGE order. For a small `limit` it keeps a sorted
 * window of `limit` entries instead of sorting the whole set, because pools hold thousands of
 * members and reads take the top hundreds.
 */
function topMembers(scores: Map<string, MemberScore>, limit: number): Array<{ member: string; score: number }> {
  const top: Array<{ member: string; score: number }> = [];
  if (limit * 4 >= scores.size) {
    scores.forEach(({ score }, member) => {
      top.push({ member, score });
    });
    top.sort((a, b) => compareDescending(a.member, a.score, b.member, b.score));
    if (top.length > limit) {
      top.length = limit;
    }
    return top;
  }
  // `forEach` rather than `for...of`, so that only members that enter the window are allocated.
  scores.forEach(({ score }, member) => {
    if (top.length === limit) {
      const last = top[limit - 1] as { member: string; score: number };
      if (compareDescending(member, score, last.member, last.score) >= 0) {
        return;
      }
      top.pop();
    }
    let low = 0;
    let high = top.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = top[middle] as { member: string; score: number };
      if (compareDescending(other.member, other.score, member, score) <= 0) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    top.splice(low, 0, { member, score });
  });
  return top;
}

/**
 * Removes the lowest members until the set has `maxMembers`, in Redis ZREMRANGEBYRANK order (lowest
 * score first, then the lexicographically smallest member). One member over the bound, the usual
 * case, costs one scan. More (a catalog load adds thousands of items to a pool of 1,000) are
 * removed after one sort instead of one scan per member. Returns the summed length of the removed members.
 */
function trimZset(scores: Map<string, MemberScore>, maxMembers: number): number {
  const excess = scores.size - maxMembers;
  if (excess <= 0) {
    return 0;
  }
  if (excess === 1) {
    const lowest = lowestMember(scores) as string;
    scores.delete(lowest);
    return lowest.length;
  }
  const ascending: Array<{ member: string; score: number }> = [];
  scores.forEach(({ score }, member) => {
    ascending.push({ member, score });
  });
  ascending.sort((a, b) => -compareDescending(a.member, a.score, b.member, b.score));
  let removedChars = 0;
  for (let index = 0; index < excess; index++) {
    const member = (ascending[index] as { member: string }).member;
    scores.delete(member);
    removedChars += member.length;
  }
  return removedChars;
}

/** Returns the member that ZREMRANGEBYRANK removes first, or undefined for an empty set. */
function lowestMember(scores: Map<string, MemberScore>): string | undefined {
  // `forEach` rather than `for...of`, because iterating the entries allocates a pair per member,
  // and covisitation sets at their bound of 50 are trimmed on almost every engagement.
  let lowest: string | undefined;
  let lowestScore = Number.POSITIVE_INFINITY;
  scores.forEach(({ score }, member) => {
    if (lowest === undefined || score < lowestScore || (score === lowestScore && member < lowest)) {
      lowest = member;
      lowestScore = score;
    }
  });
  return lowest;
}
