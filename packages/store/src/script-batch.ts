import { ZSET_LANDMARK_SUFFIX, type AggregatedBatch } from '@nexttap/features';
import { finishMessagePack, startMessagePack, writeArrayHeader, writeMapHeader, writeNumber, writeString, writeValue } from './message-pack';

/**
 * The argument of the apply script: a merged batch regrouped per key, so that the script issues
 * one command per key where Redis has a multi-field or multi-member form (HMGET and HSET, ZMSCORE
 * and ZADD) instead of one command per field or member. Each script command costs about 0.6 µs
 * of call overhead on top of its own work (Redis 7.0, `INFO commandstats` against the script's
 * total), which used to be most of the script time. Hash field names and field lists are sent once
 * per batch and referenced by 1-based index, because every item's snapshot lists the same fields.
 *
 * Decoding the argument is a large part of the script's time. It took about 10 µs per event for
 * 600 bytes of JSON per event, and it now goes as MessagePack (message-pack.ts). Repeated values
 * are sent once: reference times go as offsets from `baseMs`, the script reads a decayed hash
 * field's half-life from its name, a sorted-set group carries one half-life, and dedup keys and
 * expiries are grouped by TTL.
 */
export interface ScriptBatch {
  /** Hash field names, referenced by 1-based index. */
  names: string[];
  /** Field lists as indexes into `names`, referenced by 1-based index. */
  fieldSets: number[][];
  /** Epoch ms that every reference offset below is added to. */
  baseMs: number;
  /** `[ttlMs, keys]` runs in batch order: the script reports a duplicate by its position in this order. */
  dedup: Array<[number, string[]]>;
  /**
   * One flat array for all keys: per key `key, fieldSet to read, entry count`, then its entries as
   * `name, sum, referenceMs - baseMs`, in batch order. The script takes each field's half-life from
   * its name (`decayedField`). The three decayed sections are flat because cmsgpack builds each
   * array as a Lua table grown one element at a time: two small tables per key cost about 6% of
   * redis-server's instructions per MovieLens event (callgrind, Redis 7.0).
   */
  hashDecay: Array<string | number>;
  /**
   * One flat array for all keys: per key `key, fieldSet of the layout, TTL in ms or 0, entry count`,
   * then its entries as `position in the layout from 1, sum, referenceMs - baseMs`, in batch order.
   * The script takes each field's half-life from its name.
   */
  packedDecay: Array<string | number>;
  /**
   * One flat array for all groups: per group `key, landmark TTL in ms or 0, halfLifeMs,
   * integerScale or 0, entry count`, then its entries as `member, sum, referenceMs - baseMs`.
   */
  zsetDecay: Array<string | number>;
  /**
   * `[key, mode, flat [score, member, ...]]`, and a key's groups keep the batch order. Scores go as
   * text, which the script passes to ZADD as it is, where it would format a number argument itself.
   */
  zsetAdd: Array<[string, 'set' | 'max' | 'nx', string[]]>;
  /** Flat `[key, maxMembers, ...]`. */
  trims: Array<string | number>;
  lists: Array<[string, string[], number]>;
  /** `[key, flat [field, value, ...]]`. */
  hashSet: Array<[string, string[]]>;
  hashIncrement: Array<[string, string, number]>;
  /** `[key, flat [field, value, ...]]`. */
  hashMax: Array<[string, Array<string | number>]>;
  /** Flat `[key, value, ...]`. */
  stringSet: string[];
  /** `[key, snapshotKey, fieldSet, snapshot TTL in ms or 0]`. */
  snapshots: Array<[string, string, number, number]>;
  /** `[ttlMs, keys]`, without the keys whose TTL is set with their snapshot or landmark. */
  expires: Array<[number, string[]]>;
}

/**
 * Encodes a merged batch as the apply script's argument: the layout of `ScriptBatch` as
 * MessagePack, with `prefix` before every key, so that a prefixed store need not copy each planned
 * operation. The decayed additions and dedup keys, most of a batch, are written straight from the
 * merged batch, without building the arrays of `ScriptBatch` first.
 */
export function encodeScriptArgument(batch: AggregatedBatch, prefix = ''): Buffer {
  const table = new NameTable();
  const expires = new Map(batch.expires);
  const baseMs = batch.packedDecay.referencesMs[0] ?? batch.hashDecay.referencesMs[0] ?? batch.zsetDecay.referencesMs[0] ?? 0;
  startMessagePack();
  writeMapHeader(16);
  writeString('baseMs');
  writeNumber(baseMs);
  writeString('dedup');
  writeDedup(batch.dedup, prefix);

  const snapshotFields = new Map<string, readonly string[]>();
  const snapshots = batch.snapshots.map(([key, snapshotKey, fields]): [string, string, number, number] => {
    snapshotFields.set(key, fields);
    const ttlMs = takeTtl(expires, snapshotKey);
    return [prefix + key, prefix + snapshotKey, table.fieldSet(fields), ttlMs];
  });
  writeString('snapshots');
  writeValue(snapshots);
  writeString('hashDecay');
  writeHashDecay(batch, table, snapshotFields, baseMs, prefix);
  writeString('packedDecay');
  writePackedDecay(batch, table, expires, baseMs, prefix);
  writeString('zsetDecay');
  writeZsetDecay(batch, expires, baseMs, prefix);

  const zsetAdd = encodeZsetAdd(batch);
  const hashSet = groupFields(batch.hashSet);
  const hashMax = groupFields(batch.hashMax);
  if (prefix !== '') {
    for (const group of [...zsetAdd, ...hashSet, ...hashMax]) {
      group[0] = prefix + group[0];
    }
  }
  writeString('zsetAdd');
  writeValue(zsetAdd);
  writeString('trims');
  writeValue(prefixPairs(batch.trims, prefix));
  writeString('lists');
  writeValue(batch.lists.map(([key, values, maxLength]): [string, string[], number] => [prefix + key, values, maxLength]));
  writeString('hashSet');
  writeValue(hashSet);
  writeString('hashIncrement');
  writeValue(batch.hashIncrement.map(([key, field, amount]): [string, string, number] => [prefix + key, field, amount]));
  writeString('hashMax');
  writeValue(hashMax);
  writeString('stringSet');
  writeValue(prefixPairs(batch.stringSet, prefix));
  // The expiries, names and field sets go last: the sections above take TTLs and names from them.
  writeString('expires');
  writeValue(groupByTtl(expires, prefix));
  writeString('names');
  writeValue(table.names);
  writeString('fieldSets');
  writeValue(table.fieldSets);
  return finishMessagePack();
}

function writeKey(prefix: string, key: string): void {
  writeString(prefix === '' ? key : prefix + key);
}

/** Writes `[key, ttlMs]` pairs as runs of one TTL, keeping their order, with `prefix` before each key. */
function writeDedup(pairs: ReadonlyArray<readonly [string, number]>, prefix: string): void {
  let runs = 0;
  for (let index = 0; index < pairs.length; index++) {
    if (index === 0 || pairs[index]?.[1] !== pairs[index - 1]?.[1]) {
      runs++;
    }
  }
  writeArrayHeader(runs);
  let start = 0;
  while (start < pairs.length) {
    const ttlMs = (pairs[start] as readonly [string, number])[1];
    let end = start + 1;
    while (end < pairs.length && (pairs[end] as readonly [string, number])[1] === ttlMs) {
      end++;
    }
    writeArrayHeader(2);
    writeNumber(ttlMs);
    writeArrayHeader(end - start);
    for (let index = start; index < end; index++) {
      writeKey(prefix, (pairs[index] as readonly [string, number])[0]);
    }
    start = end;
  }
}

/** Groups keys by TTL, with `prefix` before each key; the order of the expiries does not matter. */
function groupByTtl(ttls: ReadonlyMap<string, number>, prefix: string): Array<[number, string[]]> {
  const groups = new Map<number, string[]>();
  for (const [key, ttlMs] of ttls) {
    let keys = groups.get(ttlMs);
    if (keys === undefined) {
      keys = [];
      groups.set(ttlMs, keys);
    }
    keys.push(prefix + key);
  }
  return [...groups];
}

/** Flattens `[key, value]` pairs with `prefix` before each key. */
function prefixPairs<V>(pairs: Iterable<readonly [string, V]>, prefix: string): Array<string | V> {
  const flat: Array<string | V> = [];
  for (const [key, value] of pairs) {
    flat.push(prefix + key, value);
  }
  return flat;
}

/**
 * Writes the decayed hash additions per key. A key with a snapshot reads every snapshot field
 * with its own, so the script packs the snapshot from the values it already holds.
 */
function writeHashDecay(
  batch: AggregatedBatch,
  table: NameTable,
  snapshotFields: ReadonlyMap<string, readonly string[]>,
  baseMs: number,
  prefix: string,
): void {
  const { keys, counts, names, sums, referencesMs } = batch.hashDecay;
  writeArrayHeader(keys.length * 3 + names.length * 3);
  let first = 0;
  keys.forEach((key, index) => {
    const end = first + (counts[index] as number);
    const fields = names.slice(first, end);
    const snapshot = snapshotFields.get(key);
    const read = snapshot === undefined ? fields : withSnapshotFields(snapshot, fields);
    writeKey(prefix, key);
    writeNumber(table.fieldSet(read));
    writeNumber(end - first);
    for (let entry = first; entry < end; entry++) {
      writeNumber(table.name(names[entry] as string));
      writeNumber(sums[entry] as number);
      writeNumber((referencesMs[entry] as number) - baseMs);
    }
    first = end;
  });
}

/** Writes the packed record additions per key, taking the record's TTL along. */
function writePackedDecay(batch: AggregatedBatch, table: NameTable, expires: Map<string, number>, baseMs: number, prefix: string): void {
  const { keys, counts, names, sums, referencesMs, layouts } = batch.packedDecay;
  writeArrayHeader(keys.length * 4 + names.length * 3);
  let first = 0;
  keys.forEach((key, index) => {
    const end = first + (counts[index] as number);
    writeKey(prefix, key);
    writeNumber(table.fieldSet(layouts[index] as readonly string[]));
    writeNumber(takeTtl(expires, key));
    writeNumber(end - first);
    for (let entry = first; entry < end; entry++) {
      writeNumber((names[entry] as number) + 1);
      writeNumber(sums[entry] as number);
      writeNumber((referencesMs[entry] as number) - baseMs);
    }
    first = end;
  });
}

/** Field sets of the snapshot lists, so that checking a key's fields against one is a lookup. */
const snapshotFieldSets = new WeakMap<readonly string[], ReadonlySet<string>>();

/** Returns the snapshot's fields followed by those of `fields` it lacks; the snapshot array itself when it has them all. */
function withSnapshotFields(snapshot: readonly string[], fields: readonly string[]): readonly string[] {
  let known = snapshotFieldSets.get(snapshot);
  if (known === undefined) {
    known = new Set(snapshot);
    snapshotFieldSets.set(snapshot, known);
  }
  const missing = fields.filter((field) => !(known as ReadonlySet<string>).has(field));
  return missing.length === 0 ? snapshot : [...snapshot, ...missing];
}

/**
 * Writes the decayed sorted-set additions per key and half-life, taking the landmark key's TTL
 * along. Planning gives each sorted set one half-life, so a key is normally one group.
 */
function writeZsetDecay(batch: AggregatedBatch, expires: Map<string, number>, baseMs: number, prefix: string): void {
  const { keys, counts, names, sums, referencesMs, halfLivesMs, integerScales } = batch.zsetDecay;
  let groups = 0;
  let first = 0;
  keys.forEach((_, index) => {
    const end = first + (counts[index] as number);
    for (let entry = first; entry < end; entry++) {
      if (entry === first || halfLivesMs[entry] !== halfLivesMs[entry - 1]) {
        groups++;
      }
    }
    first = end;
  });
  writeArrayHeader(groups * 5 + names.length * 3);
  first = 0;
  keys.forEach((key, index) => {
    const end = first + (counts[index] as number);
    const landmarkTtlMs = takeTtl(expires, key + ZSET_LANDMARK_SUFFIX);
    let start = first;
    while (start < end) {
      const halfLifeMs = halfLivesMs[start] as number;
      let runEnd = start + 1;
      while (runEnd < end && halfLivesMs[runEnd] === halfLifeMs) {
        runEnd++;
      }
      writeKey(prefix, key);
      writeNumber(landmarkTtlMs);
      writeNumber(halfLifeMs);
      writeNumber(integerScales[index] as number);
      writeNumber(runEnd - start);
      for (let entry = start; entry < runEnd; entry++) {
        writeString(names[entry] as string);
        writeNumber(sums[entry] as number);
        writeNumber((referencesMs[entry] as number) - baseMs);
      }
      start = runEnd;
    }
    first = end;
  });
}

/** Groups runs of one key and mode; a key whose mode changes starts a new group, so order per key holds. */
function encodeZsetAdd(batch: AggregatedBatch): ScriptBatch['zsetAdd'] {
  const groups: ScriptBatch['zsetAdd'] = [];
  const lastGroupOfKey = new Map<string, ScriptBatch['zsetAdd'][number]>();
  for (const [key, member, score, mode] of batch.zsetAdd) {
    let group = lastGroupOfKey.get(key);
    if (group === undefined || group[1] !== mode) {
      group = [key, mode, []];
      groups.push(group);
      lastGroupOfKey.set(key, group);
    }
    // String() gives the shortest text that parses back to the same double, so no score changes.
    group[2].push(String(score), member);
  }
  return groups;
}

function groupFields<V>(entries: ReadonlyArray<[string, string, V]>): Array<[string, Array<string | V>]> {
  const groups = new Map<string, Array<string | V>>();
  for (const [key, field, value] of entries) {
    let fields = groups.get(key);
    if (fields === undefined) {
      fields = [];
      groups.set(key, fields);
    }
    fields.push(field, value);
  }
  return [...groups];
}

/**
 * Removes a key's planned expiry from `expires` and returns its TTL, or 0 when none was planned.
 * A TTL that is not positive stays in `expires`, because `PX` rejects it where `PEXPIRE` deletes the key.
 */
function takeTtl(expires: Map<string, number>, key: string): number {
  const ttlMs = expires.get(key);
  if (ttlMs === undefined || ttlMs <= 0) {
    return 0;
  }
  expires.delete(key);
  return ttlMs;
}

/** Field names and field lists of one batch, each sent once and referenced by 1-based index. */
class NameTable {
  readonly names: string[] = [];
  readonly fieldSets: number[][] = [];
  private readonly nameIndexes = new Map<string, number>();
  private readonly fieldSetIndexes = new Map<string, number>();
  /** Field lists seen by identity: every item's snapshot passes the same array. */
  private readonly fieldSetsByArray = new Map<readonly string[], number>();

  name(field: string): number {
    let index = this.nameIndexes.get(field);
    if (index === undefined) {
      this.names.push(field);
      index = this.names.length;
      this.nameIndexes.set(field, index);
    }
    return index;
  }

  fieldSet(fields: readonly string[]): number {
    const known = this.fieldSetsByArray.get(fields);
    if (known !== undefined) {
      return known;
    }
    const index = this.fieldSetOfNames(fields);
    this.fieldSetsByArray.set(fields, index);
    return index;
  }

  private fieldSetOfNames(fields: readonly string[]): number {
    const indexes = fields.map((field) => this.name(field));
    const signature = indexes.join(',');
    let index = this.fieldSetIndexes.get(signature);
    if (index === undefined) {
      this.fieldSets.push(indexes);
      index = this.fieldSets.length;
      this.fieldSetIndexes.set(signature, index);
    }
    return index;
  }
}
