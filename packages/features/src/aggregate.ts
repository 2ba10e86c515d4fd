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
  /** Σ weight·2^((t−referenceMs)/h) per hash field; the store adds it scaled to the key's landmark. */
  hashDecay: Array<[key: string, field: string, sum: number, referenceMs: number, halfLifeMs: number]>;
  /**
   * The same sums for packed records, a key's entries together and in the order of their first
   * addition. `fieldIndex` counts from 0 in `fields`, the record's layout after its landmark.
   */
  packedDecay: Array<[key: string, fields: readonly string[], fieldIndex: number, sum: number, referenceMs: number, halfLifeMs: number]>;
  /** `integerScale` is 0 for plain double scores (see the `zsetDecayAdd` operation). */
  zsetDecay: Array<[key: string, member: string, sum: number, referenceMs: number, halfLifeMs: number, integerScale: number]>;
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

interface DecaySum {
  sum: number;
  referenceMs: number;
  halfLifeMs: number;
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
  private readonly hashDecay = new Map<string, Map<string, DecaySum>>();
  private readonly packedDecay = new Map<string, PackedSums>();
  private lastPackedKey: string | undefined;
  private lastPackedRecord: PackedSums | undefined;
  private readonly zsetDecay = new Map<string, Map<string, DecaySum>>();
  private readonly zsetIntegerScales = new Map<string, number>();
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
    const halfLifeMs = cachedHalfLifeOfField(field);
    if (halfLifeMs === undefined) {
      throw new Error(`decayed field ${field} has no half-life suffix; build its name with decayedField()`);
    }
    addDecay(fieldMap(this.hashDecay, key), field, weight, tMs, halfLifeMs);
  }

  packedDecayAdd(key: string, fields: readonly string[], field: string, weight: number, tMs: number): void {
    const layout = packedLayout(fields);
    // One event adds up to 8 fields to its item's record in a row, so the last record is kept at hand.
    let record = key === this.lastPackedKey ? this.lastPackedRecord : this.packedDecay.get(key);
    if (record === undefined) {
      record = { layout, sums: new Map() };
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
    addDecay(record.sums, fieldIndex, weight, tMs, layout.halfLivesMs[fieldIndex] as number);
  }

  zsetDecayAdd(key: string, member: string, weight: number, tMs: number, halfLifeMs: number, maxMembers: number, integerScale = 0): void {
    const knownScale = this.zsetIntegerScales.get(key);
    if (knownScale === undefined) {
      this.zsetIntegerScales.set(key, integerScale);
    } else if (knownScale !== integerScale) {
      throw new Error(`sorted set ${key} was given integer scales ${knownScale} and ${integerScale} in one batch; plan every addition to it with the same scale`);
    }
    addDecay(fieldMap(this.zsetDecay, key), member, weight, tMs, halfLifeMs);
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
      hashDecay: flattenDecay(this.hashDecay),
      packedDecay: flattenPackedDecay(this.packedDecay),
      zsetDecay: flattenZsetDecay(this.zsetDecay, this.zsetIntegerScales),
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

/** Half-lives of decayed field names; the names repeat in every batch, so each is parsed once. */
const halfLifeByField = new Map<string, number | undefined>();
/** Bound of `halfLifeByField`: creator fields are open-ended, so the cache starts over at this size. */
const HALF_LIFE_CACHE_MAX = 100_000;

/** The sums a batch adds to one packed record, by position in its layout. */
interface PackedSums {
  layout: PackedLayout;
  sums: Map<number, DecaySum>;
}

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

/**
 * Adds w·2^((t−reference)/h) to a running sum whose reference is the latest time seen, rescaling
 * the sum when a later event moves the reference, so no term exceeds w.
 */
function addDecay<Name>(sums: Map<Name, DecaySum>, name: Name, weight: number, tMs: number, halfLifeMs: number): void {
  const current = sums.get(name);
  if (current === undefined) {
    sums.set(name, { sum: weight, referenceMs: tMs, halfLifeMs });
  } else if (tMs > current.referenceMs) {
    current.sum = current.sum * 2 ** ((current.referenceMs - tMs) / halfLifeMs) + weight;
    current.referenceMs = tMs;
  } else {
    current.sum += weight * 2 ** ((tMs - current.referenceMs) / halfLifeMs);
  }
}

// The flattening uses `forEach` rather than `for...of`, which builds a [key, value] pair per entry,
// and the maps hold every key and field that a batch writes.
function flattenDecay(maps: Map<string, Map<string, DecaySum>>): Array<[string, string, number, number, number]> {
  const result: Array<[string, string, number, number, number]> = [];
  maps.forEach((fields, key) => {
    fields.forEach((decay, name) => {
      result.push([key, name, decay.sum, decay.referenceMs, decay.halfLifeMs]);
    });
  });
  return result;
}

function flattenZsetDecay(maps: Map<string, Map<string, DecaySum>>, integerScales: ReadonlyMap<string, number>): AggregatedBatch['zsetDecay'] {
  const result: AggregatedBatch['zsetDecay'] = [];
  maps.forEach((members, key) => {
    const integerScale = integerScales.get(key) ?? 0;
    members.forEach((decay, member) => {
      result.push([key, member, decay.sum, decay.referenceMs, decay.halfLifeMs, integerScale]);
    });
  });
  return result;
}

function flattenPackedDecay(records: Map<string, PackedSums>): AggregatedBatch['packedDecay'] {
  const result: AggregatedBatch['packedDecay'] = [];
  records.forEach(({ layout, sums }, key) => {
    sums.forEach((decay, fieldIndex) => {
      result.push([key, layout.fields, fieldIndex, decay.sum, decay.referenceMs, decay.halfLifeMs]);
    });
  });
  return result;
}

function flattenFields<V>(maps: Map<string, Map<string, V>>): Array<[string, string, V]> {
  const result: Array<[string, string, V]> = [];
  maps.forEach((fields, key) => {
    fields.forEach((value, field) => {
      result.push([key, field, value]);
    });
  });
  return result;
}
