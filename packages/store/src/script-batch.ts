import { ZSET_LANDMARK_SUFFIX, type AggregatedBatch } from '@nexttap/features';

/**
 * The argument of the apply script: a merged batch regrouped per key, so that the script issues
 * one command per key where Redis has a multi-field or multi-member form (HMGET and HSET, ZMSCORE
 * and ZADD) instead of one command per field or member. Each script command costs about 0.6 µs
 * of call overhead on top of its own work (Redis 7.0, `INFO commandstats` against the script's
 * total), which used to be most of the script time. Hash field names and field lists are sent once
 * per batch and referenced by 1-based index, because every item's snapshot lists the same fields.
 *
 * Decoding the argument is a large part of the script's time (about 10 µs per event for 600 bytes
 * of JSON per event; it now goes as MessagePack, see message-pack.ts), so repeated values are sent
 * once. Reference times go as offsets from `baseMs`,
 * the script reads a decayed hash field's half-life from its name, a sorted-set group carries one
 * half-life, and dedup keys and expiries are grouped by TTL.
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
   * `[key, fieldSet to read, flat [name, sum, referenceMs - baseMs, ...]]`, the entries of a key in
   * batch order. The script takes each field's half-life from its name (`decayedField`).
   */
  hashDecay: Array<[string, number, number[]]>;
  /**
   * `[key, fieldSet of the layout, TTL in ms or 0, flat [position in the layout from 1, sum,
   * referenceMs - baseMs, ...]]`, the entries of a key in batch order. The script takes each
   * field's half-life from its name.
   */
  packedDecay: Array<[string, number, number, number[]]>;
  /**
   * `[key, landmark TTL in ms or 0, halfLifeMs, integerScale or 0, flat [member, sum, referenceMs -
   * baseMs, ...]]`.
   */
  zsetDecay: Array<[string, number, number, number, Array<string | number>]>;
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
 * Regroups a merged batch for the apply script (see `ScriptBatch`), with `prefix` before every
 * key, so that a prefixed store need not copy each planned operation.
 */
export function encodeScriptBatch(batch: AggregatedBatch, prefix = ''): ScriptBatch {
  const table = new NameTable();
  const expires = new Map(batch.expires);
  const baseMs = batch.packedDecay.referencesMs[0] ?? batch.hashDecay.referencesMs[0] ?? batch.zsetDecay.referencesMs[0] ?? 0;

  const snapshotFields = new Map<string, readonly string[]>();
  const snapshots = batch.snapshots.map(([key, snapshotKey, fields]): [string, string, number, number] => {
    snapshotFields.set(key, fields);
    const ttlMs = takeTtl(expires, snapshotKey);
    return [prefix + key, prefix + snapshotKey, table.fieldSet(fields), ttlMs];
  });
  const hashDecay = encodeHashDecay(batch, table, snapshotFields, baseMs);
  const packedDecay = encodePackedDecay(batch, table, expires, baseMs);
  const zsetDecay = encodeZsetDecay(batch, expires, baseMs);
  const zsetAdd = encodeZsetAdd(batch);
  const lists = batch.lists.map(([key, values, maxLength]): [string, string[], number] => [prefix + key, values, maxLength]);
  const hashSet = groupFields(batch.hashSet);
  const hashIncrement = batch.hashIncrement.map(([key, field, amount]): [string, string, number] => [prefix + key, field, amount]);
  const hashMax = groupFields(batch.hashMax);
  if (prefix !== '') {
    for (const group of [...hashDecay, ...packedDecay, ...zsetDecay, ...zsetAdd, ...hashSet, ...hashMax]) {
      group[0] = prefix + group[0];
    }
  }
  return {
    names: table.names,
    fieldSets: table.fieldSets,
    baseMs,
    dedup: groupRunsByTtl(batch.dedup, prefix),
    hashDecay,
    packedDecay,
    zsetDecay,
    zsetAdd,
    trims: prefixPairs(batch.trims, prefix),
    lists,
    hashSet,
    hashIncrement,
    hashMax,
    stringSet: prefixPairs(batch.stringSet, prefix) as string[],
    snapshots,
    expires: groupByTtl(expires, prefix),
  };
}

/** Groups `[key, ttlMs]` pairs into runs of one TTL, keeping their order, with `prefix` before each key. */
function groupRunsByTtl(pairs: ReadonlyArray<readonly [string, number]>, prefix: string): Array<[number, string[]]> {
  const runs: Array<[number, string[]]> = [];
  let current: [number, string[]] | undefined;
  for (const [key, ttlMs] of pairs) {
    if (current?.[0] !== ttlMs) {
      current = [ttlMs, []];
      runs.push(current);
    }
    current[1].push(prefix + key);
  }
  return runs;
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
 * Groups the decayed hash additions per key. A key with a snapshot reads every snapshot field
 * with its own, so the script packs the snapshot from the values it already holds.
 */
function encodeHashDecay(
  batch: AggregatedBatch,
  table: NameTable,
  snapshotFields: ReadonlyMap<string, readonly string[]>,
  baseMs: number,
): ScriptBatch['hashDecay'] {
  const { names, sums, referencesMs } = batch.hashDecay;
  let first = 0;
  return batch.hashDecay.keys.map((key, index): ScriptBatch['hashDecay'][number] => {
    const end = first + (batch.hashDecay.counts[index] as number);
    const entries: number[] = [];
    for (let entry = first; entry < end; entry++) {
      entries.push(table.name(names[entry] as string), sums[entry] as number, (referencesMs[entry] as number) - baseMs);
    }
    const fields = names.slice(first, end);
    first = end;
    const snapshot = snapshotFields.get(key);
    const read = snapshot === undefined ? fields : withSnapshotFields(snapshot, fields);
    return [key, table.fieldSet(read), entries];
  });
}

/** Groups the packed record additions per key, taking the record's TTL along. */
function encodePackedDecay(batch: AggregatedBatch, table: NameTable, expires: Map<string, number>, baseMs: number): ScriptBatch['packedDecay'] {
  const { names, sums, referencesMs, layouts } = batch.packedDecay;
  let first = 0;
  return batch.packedDecay.keys.map((key, index): ScriptBatch['packedDecay'][number] => {
    const end = first + (batch.packedDecay.counts[index] as number);
    const entries: number[] = [];
    for (let entry = first; entry < end; entry++) {
      entries.push((names[entry] as number) + 1, sums[entry] as number, (referencesMs[entry] as number) - baseMs);
    }
    first = end;
    return [key, table.fieldSet(layouts[index] as readonly string[]), takeTtl(expires, key), entries];
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
 * Groups the decayed sorted-set additions per key and half-life, taking the landmark key's TTL
 * along. Planning gives each sorted set one half-life, so a key is normally one group.
 */
function encodeZsetDecay(batch: AggregatedBatch, expires: Map<string, number>, baseMs: number): ScriptBatch['zsetDecay'] {
  const encoded: ScriptBatch['zsetDecay'] = [];
  const { keys, counts, names, sums, referencesMs, halfLivesMs, integerScales } = batch.zsetDecay;
  let first = 0;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const integerScale = integerScales[index] as number;
    const end = first + (counts[index] as number);
    const landmarkTtlMs = takeTtl(expires, key + ZSET_LANDMARK_SUFFIX);
    let current: ScriptBatch['zsetDecay'][number] | undefined;
    for (let entry = first; entry < end; entry++) {
      const halfLifeMs = halfLivesMs[entry] as number;
      if (current?.[2] !== halfLifeMs) {
        current = [key, landmarkTtlMs, halfLifeMs, integerScale, []];
        encoded.push(current);
      }
      current[4].push(names[entry] as string, sums[entry] as number, (referencesMs[entry] as number) - baseMs);
    }
    first = end;
  }
  return encoded;
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
