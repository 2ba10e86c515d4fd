import { halfLifeOfField, sendOperation, type PlannedWrite, type WriteOperation, type WriteSink } from './operations';

/**
 * A batch of planned writes merged so that each key and field is written once: decayed additions
 * summed against a common reference time, increments summed, list pushes kept in order, sets and
 * snapshots taken last. Tuples keep the JSON sent to Redis small.
 */
export interface AggregatedBatch {
  /** Dedup keys with their TTL in ms, in write order; `writeIndexes[i]` is the write that owns `dedup[i]`. */
  dedup: Array<[key: string, ttlMs: number]>;
  writeIndexes: number[];
  /** Decayed hash additions per key, keys in the order of their first addition. */
  hashDecay: DecayGroup[];
  /** Decayed additions to packed records per key, keys in the order of their first addition. */
  packedDecay: PackedDecayGroup[];
  /** Decayed sorted-set additions per key, keys in the order of their first addition. */
  zsetDecay: ZsetDecayGroup[];
  zsetAdd: Array<[key: string, member: string, score: number, mode: 'set' | 'max' | 'nx']>;
  /** Sorted sets to trim after the additions, with the smallest bound planned for each. */
  trims: Array<[key: string, maxMembers: number]>;
  /** Values in push order; the last one ends at the head, as with one LPUSH per value. */
  lists: Array<[key: string, values: string[], maxLength: number]>;
  hashSet: Array<[key: string, field: string, value: string]>;
  hashIncrement: Array<[key: string, field: string, amount: number]>;
  hashMax: Array<[key: string, field: string, value: number]>;
  stringSet: Array<[key: string, value: string]>;
  snapshots: Array<[key: string, snapshotKey: string, fields: readonly string[]]>;
  expires: Array<[key: string, ttlMs: number]>;
}

/**
 * The decayed additions of a batch to one hash or sorted set, entry `i` in the parallel arrays per
 * field or member, in the order of their first addition. `sums[i]` is Σ weight·2^((t −
 * referencesMs[i]) / halfLivesMs[i]) over the additions, with the latest addition time as the
 * reference; the store adds it scaled to the key's landmark. Parallel arrays of numbers keep the
 * sums unboxed and need no object per entry.
 */
export interface DecayGroup {
  key: string;
  names: string[];
  sums: number[];
  referencesMs: number[];
  halfLivesMs: number[];
}

/** A `DecayGroup` of a sorted set; `integerScale` is 0 for plain double scores (see the `zsetDecayAdd` operation). */
export interface ZsetDecayGroup extends DecayGroup {
  integerScale: number;
}

/**
 * The decayed additions of a batch to one packed record, as a `DecayGroup` whose entries name a
 * position in `fields`, the record's layout after its landmark, counted from 0.
 */
export interface PackedDecayGroup {
  key: string;
  fields: readonly string[];
  fieldIndexes: number[];
  sums: number[];
  referencesMs: number[];
  halfLivesMs: number[];
}

/**
 * Merges the writes that are not duplicates of an earlier write in the same batch. Returns the
 * batch and, per input write, whether it takes part (false for a repeated dedup key).
 */
export function aggregateWrites(writes: readonly PlannedWrite[]): { batch: AggregatedBatch; included: boolean[] } {
  const seenDedupKeys = new Set<string>();
  const included = writes.map((write) => {
    if (write.dedupKey === undefined) {
      return true;
    }
    if (seenDedupKeys.has(write.dedupKey)) {
      return false;
    }
    seenDedupKeys.add(write.dedupKey);
    return true;
  });
  const builder = new BatchBuilder();
  writes.forEach((write, index) => {
    if (!included[index]) {
      return;
    }
    if (write.dedupKey !== undefined) {
      builder.addDedup(write.dedupKey, write.dedupTtlMs ?? 0, index);
    }
    if (write.planInto === undefined) {
      for (const operation of write.operations) {
        builder.add(operation);
      }
    } else {
      write.planInto(builder);
    }
  });
  return { batch: builder.build(), included };
}

class BatchBuilder implements WriteSink {
  private readonly dedup: Array<[string, number]> = [];
  private readonly writeIndexes: number[] = [];
  private readonly hashDecay = new Map<string, NamedDecaySums>();
  private readonly packedDecay = new Map<string, PackedDecaySums>();
  private lastPackedKey: string | undefined;
  private lastPackedRecord: PackedDecaySums | undefined;
  private readonly zsetDecay = new Map<string, NamedDecaySums>();
  private readonly zsetAdds: Array<[string, string, number, 'set' | 'max' | 'nx']> = [];
  private readonly trims = new Map<string, number>();
  private readonly lists = new Map<string, { values: string[]; maxLength: number }>();
  private readonly hashSet = new Map<string, Map<string, string>>();
  private readonly increments = new Map<string, Map<string, number>>();
  private readonly maxima = new Map<string, Map<string, number>>();
  private readonly stringSet = new Map<string, string>();
  private readonly snapshots = new Map<string, [string, readonly string[]]>();
  private readonly expires = new Map<string, number>();

  addDedup(key: string, ttlMs: number, writeIndex: number): void {
    this.dedup.push([key, ttlMs]);
    this.writeIndexes.push(writeIndex);
  }

  add(operation: WriteOperation): void {
    switch (operation.op) {
      case 'hashSet':
        fieldMap(this.hashSet, operation.key).set(operation.field, operation.value);
        return;
      case 'stringSet':
        this.stringSet.set(operation.key, operation.value);
        return;
      default:
        sendOperation(this, operation);
    }
  }

  hashDecayAdd(key: string, field: string, weight: number, tMs: number): void {
    let group = this.hashDecay.get(key);
    if (group === undefined) {
      group = new NamedDecaySums(key, 0);
      this.hashDecay.set(key, group);
    }
    const entry = group.indexOf(field);
    if (entry >= 0) {
      group.add(entry, weight, tMs);
      return;
    }
    const halfLifeMs = cachedHalfLifeOfField(field);
    if (halfLifeMs === undefined) {
      throw new Error(`decayed field ${field} has no half-life suffix; build its name with decayedField()`);
    }
    group.push(field, weight, tMs, halfLifeMs);
  }

  packedDecayAdd(key: string, fields: readonly string[], field: string, weight: number, tMs: number): void {
    const layout = packedLayout(fields);
    // One event adds up to 8 fields to its item's record in a row, so the last record is kept at hand.
    let record = key === this.lastPackedKey ? this.lastPackedRecord : this.packedDecay.get(key);
    if (record === undefined) {
      record = new PackedDecaySums(key, layout);
      this.packedDecay.set(key, record);
    } else if (record.layout !== layout) {
      throw new Error(`packed record ${key} was given two field layouts in one batch; plan every addition to it with the same fields array`);
    }
    const fieldIndex = layout.indexes.get(field);
    if (fieldIndex === undefined) {
      throw new Error(`field ${field} is not in the layout of packed record ${key}; add it to the fields array`);
    }
    this.lastPackedKey = key;
    this.lastPackedRecord = record;
    record.add(fieldIndex, weight, tMs);
  }

  zsetDecayAdd(key: string, member: string, weight: number, tMs: number, halfLifeMs: number, maxMembers: number, integerScale = 0): void {
    let group = this.zsetDecay.get(key);
    if (group === undefined) {
      group = new NamedDecaySums(key, integerScale);
      this.zsetDecay.set(key, group);
    } else if (group.integerScale !== integerScale) {
      throw new Error(`sorted set ${key} was given integer scales ${group.integerScale} and ${integerScale} in one batch; plan every addition to it with the same scale`);
    }
    const entry = group.indexOf(member);
    if (entry >= 0) {
      group.add(entry, weight, tMs);
    } else {
      group.push(member, weight, tMs, halfLifeMs);
    }
    this.addTrim(key, maxMembers);
  }

  zsetAdd(key: string, member: string, score: number, mode: 'set' | 'max' | 'nx', maxMembers: number): void {
    this.zsetAdds.push([key, member, score, mode]);
    this.addTrim(key, maxMembers);
  }

  listPush(key: string, value: string, maxLength: number): void {
    const list = this.lists.get(key);
    if (list === undefined) {
      this.lists.set(key, { values: [value], maxLength });
    } else {
      list.values.push(value);
      list.maxLength = Math.min(list.maxLength, maxLength);
    }
  }

  hashIncrement(key: string, field: string, amount: number): void {
    const fields = fieldMap(this.increments, key);
    fields.set(field, (fields.get(field) ?? 0) + amount);
  }

  hashMax(key: string, field: string, value: number): void {
    const fields = fieldMap(this.maxima, key);
    fields.set(field, Math.max(fields.get(field) ?? Number.NEGATIVE_INFINITY, value));
  }

  hashSnapshot(key: string, snapshotKey: string, fields: readonly string[]): void {
    this.snapshots.set(key, [snapshotKey, fields]);
  }

  expire(key: string, ttlMs: number): void {
    this.expires.set(key, ttlMs);
  }

  build(): AggregatedBatch {
    return {
      dedup: this.dedup,
      writeIndexes: this.writeIndexes,
      hashDecay: [...this.hashDecay.values()].map((group) => group.toGroup()),
      packedDecay: [...this.packedDecay.values()].map((record) => record.toGroup()),
      zsetDecay: [...this.zsetDecay.values()].map((group) => group.toZsetGroup()),
      zsetAdd: this.zsetAdds,
      trims: [...this.trims],
      lists: [...this.lists].map(([key, list]) => [key, list.values, list.maxLength]),
      hashSet: flattenFields(this.hashSet),
      hashIncrement: flattenFields(this.increments),
      hashMax: flattenFields(this.maxima),
      stringSet: [...this.stringSet],
      snapshots: [...this.snapshots].map(([key, [snapshotKey, fields]]) => [key, snapshotKey, fields]),
      expires: [...this.expires],
    };
  }

  private addTrim(key: string, maxMembers: number): void {
    this.trims.set(key, Math.min(this.trims.get(key) ?? Number.POSITIVE_INFINITY, maxMembers));
  }
}

/** Names a group searches one by one before it builds a map: most groups get a few names per batch. */
const LINEAR_SEARCH_MAX = 8;

/**
 * Adds w·2^((t − reference) / h) to entry `entry` of running sums whose reference is the latest
 * time seen, rescaling the sum when a later addition moves the reference, so no term exceeds w.
 */
function addDecay(sums: number[], referencesMs: number[], halfLifeMs: number, entry: number, weight: number, tMs: number): void {
  const referenceMs = referencesMs[entry] as number;
  if (tMs > referenceMs) {
    sums[entry] = (sums[entry] as number) * 2 ** ((referenceMs - tMs) / halfLifeMs) + weight;
    referencesMs[entry] = tMs;
  } else {
    sums[entry] = (sums[entry] as number) + weight * 2 ** ((tMs - referenceMs) / halfLifeMs);
  }
}

/** The running sums of one hash or sorted set while a batch is merged. */
class NamedDecaySums {
  readonly names: string[] = [];
  readonly sums: number[] = [];
  readonly referencesMs: number[] = [];
  readonly halfLivesMs: number[] = [];
  /** Entry of each name, built once the group has more than `LINEAR_SEARCH_MAX` names. */
  #entries: Map<string, number> | undefined;

  constructor(
    readonly key: string,
    readonly integerScale: number,
  ) {}

  /** Returns the entry of `name`, or -1 when the batch has not added to it yet. */
  indexOf(name: string): number {
    if (this.#entries !== undefined) {
      return this.#entries.get(name) ?? -1;
    }
    const names = this.names;
    for (let entry = 0; entry < names.length; entry++) {
      if (names[entry] === name) {
        return entry;
      }
    }
    return -1;
  }

  add(entry: number, weight: number, tMs: number): void {
    addDecay(this.sums, this.referencesMs, this.halfLivesMs[entry] as number, entry, weight, tMs);
  }

  push(name: string, weight: number, tMs: number, halfLifeMs: number): void {
    const entry = this.names.length;
    this.names.push(name);
    this.sums.push(weight);
    this.referencesMs.push(tMs);
    this.halfLivesMs.push(halfLifeMs);
    if (this.#entries !== undefined) {
      this.#entries.set(name, entry);
    } else if (this.names.length > LINEAR_SEARCH_MAX) {
      this.#entries = new Map(this.names.map((known, index) => [known, index]));
    }
  }

  toGroup(): DecayGroup {
    return { key: this.key, names: this.names, sums: this.sums, referencesMs: this.referencesMs, halfLivesMs: this.halfLivesMs };
  }

  toZsetGroup(): ZsetDecayGroup {
    return { key: this.key, names: this.names, sums: this.sums, referencesMs: this.referencesMs, halfLivesMs: this.halfLivesMs, integerScale: this.integerScale };
  }
}

/** The running sums of one packed record while a batch is merged, by position in its layout. */
class PackedDecaySums {
  readonly fieldIndexes: number[] = [];
  readonly sums: number[] = [];
  readonly referencesMs: number[] = [];
  readonly halfLivesMs: number[] = [];

  constructor(
    readonly key: string,
    readonly layout: PackedLayout,
  ) {}

  add(fieldIndex: number, weight: number, tMs: number): void {
    const entry = this.fieldIndexes.indexOf(fieldIndex);
    if (entry >= 0) {
      addDecay(this.sums, this.referencesMs, this.halfLivesMs[entry] as number, entry, weight, tMs);
      return;
    }
    this.fieldIndexes.push(fieldIndex);
    this.sums.push(weight);
    this.referencesMs.push(tMs);
    this.halfLivesMs.push(this.layout.halfLivesMs[fieldIndex] as number);
  }

  toGroup(): PackedDecayGroup {
    return {
      key: this.key,
      fields: this.layout.fields,
      fieldIndexes: this.fieldIndexes,
      sums: this.sums,
      referencesMs: this.referencesMs,
      halfLivesMs: this.halfLivesMs,
    };
  }
}

/** Half-lives of decayed field names; the names repeat in every batch, so each is parsed once. */
const halfLifeByField = new Map<string, number | undefined>();
/** Bound of `halfLifeByField`: creator fields are open-ended, so the cache starts over at this size. */
const HALF_LIFE_CACHE_MAX = 100_000;

/** A packed record's fields with their positions and half-lives, built once per fields array. */
interface PackedLayout {
  fields: readonly string[];
  indexes: ReadonlyMap<string, number>;
  halfLivesMs: readonly number[];
}

const packedLayouts = new WeakMap<readonly string[], PackedLayout>();

/** The layout found last: every item record of a batch passes the same fields array. */
let lastPackedLayout: PackedLayout | undefined;

function packedLayout(fields: readonly string[]): PackedLayout {
  if (lastPackedLayout?.fields === fields) {
    return lastPackedLayout;
  }
  let layout = packedLayouts.get(fields);
  if (layout === undefined) {
    const halfLivesMs = fields.map((field) => {
      const halfLifeMs = halfLifeOfField(field);
      if (halfLifeMs === undefined) {
        throw new Error(`packed record field ${field} has no half-life suffix; build its name with decayedField()`);
      }
      return halfLifeMs;
    });
    layout = { fields, indexes: new Map(fields.map((field, index) => [field, index])), halfLivesMs };
    packedLayouts.set(fields, layout);
  }
  lastPackedLayout = layout;
  return layout;
}

function cachedHalfLifeOfField(field: string): number | undefined {
  let halfLifeMs = halfLifeByField.get(field);
  if (halfLifeMs === undefined) {
    halfLifeMs = halfLifeOfField(field);
    if (halfLifeByField.size >= HALF_LIFE_CACHE_MAX) {
      halfLifeByField.clear();
    }
    halfLifeByField.set(field, halfLifeMs);
  }
  return halfLifeMs;
}

function fieldMap<V>(maps: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let fields = maps.get(key);
  if (fields === undefined) {
    fields = new Map();
    maps.set(key, fields);
  }
  return fields;
}

// The flattening uses `forEach` rather than `for...of`, which builds a [key, value] pair per entry,
// and the maps hold every key and field that a batch writes.
function flattenFields<V>(maps: Map<string, Map<string, V>>): Array<[string, string, V]> {
  const result: Array<[string, string, V]> = [];
  maps.forEach((fields, key) => {
    fields.forEach((value, field) => {
      result.push([key, field, value]);
    });
  });
  return result;
}
