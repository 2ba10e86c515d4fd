import { halfLifeOfField, sendOperation, type PlannedWrite, type WriteOperation, type WriteSink } from './operations';

/**
 * A batch of planned writes merged so that each key and field is written once: decayed additions
 * summed against a common reference time, increments summed, list pushes kept in order, sets and
 * snapshots taken last.
 */
export interface AggregatedBatch {
  /** Dedup keys with their TTL in ms, in write order; `writeIndexes[i]` is the write that owns `dedup[i]`. */
  dedup: Array<[key: string, ttlMs: number]>;
  writeIndexes: number[];
  hashDecay: DecayEntries<string>;
  /** Entries name a position in the key's layout `layouts[k]` (the record's fields after its landmark), from 0. */
  packedDecay: DecayEntries<number> & { layouts: Array<readonly string[]> };
  /** `integerScales[k]` is 0 for plain double scores (see the `zsetDecayAdd` operation). */
  zsetDecay: DecayEntries<string> & { integerScales: number[] };
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
 * The decayed additions of a batch, grouped per key. Key `keys[k]` owns the `counts[k]` entries
 * that follow those of the keys before it. Keys, and each key's entries, are in the order of their
 * first addition. Entry `i` adds to field or member `names[i]`, and `sums[i]` is Σ
 * weight·2^((t − referencesMs[i]) / halfLivesMs[i]) over its additions. The reference is the
 * latest addition time, and the store adds the sum scaled to the key's landmark. Flat arrays need no
 * object per key or entry and keep the sums unboxed.
 */
export interface DecayEntries<Name> {
  keys: string[];
  counts: number[];
  names: Name[];
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
  private readonly hashDecay = new DecayChains<string>();
  private readonly packedDecay = new DecayChains<number>();
  private readonly zsetDecay = new DecayChains<string>();
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
    const chains = this.hashDecay;
    const chain = chains.chainOf(key, 0, undefined);
    const entry = chains.indexOf(chain, field);
    if (entry >= 0) {
      chains.add(entry, weight, tMs);
      return;
    }
    const halfLifeMs = cachedHalfLifeOfField(field);
    if (halfLifeMs === undefined) {
      throw new Error(`decayed field ${field} has no half-life suffix; build its name with decayedField()`);
    }
    chains.push(chain, field, weight, tMs, halfLifeMs);
  }

  packedDecayAdd(key: string, fields: readonly string[], field: string, weight: number, tMs: number): void {
    const layout = packedLayout(fields);
    const chains = this.packedDecay;
    const record = chains.chainOf(key, 0, layout);
    if (record.layout !== layout) {
      throw new Error(`packed record ${key} was given two field layouts in one batch; plan every addition to it with the same fields array`);
    }
    const fieldIndex = layout.indexes.get(field);
    if (fieldIndex === undefined) {
      throw new Error(`field ${field} is not in the layout of packed record ${key}; add it to the fields array`);
    }
    const entry = chains.indexOf(record, fieldIndex);
    if (entry >= 0) {
      chains.add(entry, weight, tMs);
    } else {
      chains.push(record, fieldIndex, weight, tMs, layout.halfLivesMs[fieldIndex] as number);
    }
  }

  zsetDecayAdd(key: string, member: string, weight: number, tMs: number, halfLifeMs: number, maxMembers: number, integerScale = 0): void {
    const chains = this.zsetDecay;
    const chain = chains.chainOf(key, integerScale, undefined);
    if (chain.integerScale !== integerScale) {
      throw new Error(`sorted set ${key} was given integer scales ${chain.integerScale} and ${integerScale} in one batch; plan every addition to it with the same scale`);
    }
    const entry = chains.indexOf(chain, member);
    if (entry >= 0) {
      chains.add(entry, weight, tMs);
    } else {
      chains.push(chain, member, weight, tMs, halfLifeMs);
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
      hashDecay: this.hashDecay.build(),
      // Object.assign instead of a spread with one more field: Node.js 20's V8 gives each object
      // built as `{ ...entries, field }` a hidden class of its own, an old-space allocation per call.
      packedDecay: Object.assign(this.packedDecay.build(), { layouts: this.packedDecay.chains().map((chain) => (chain.layout as PackedLayout).fields) }),
      zsetDecay: Object.assign(this.zsetDecay.build(), { integerScales: this.zsetDecay.chains().map((chain) => chain.integerScale) }),
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

/** Entries a chain searches one by one before it builds a map: most keys get a few names per batch. */
const LINEAR_SEARCH_MAX = 8;

/** One key's entries in `DecayChains`, linked through `next`. */
interface DecayChain<Name> {
  key: string;
  first: number;
  last: number;
  count: number;
  /** Entry of each name, built once the key has more than `LINEAR_SEARCH_MAX` entries. */
  entries: Map<Name, number> | undefined;
  integerScale: number;
  layout: PackedLayout | undefined;
}

/**
 * The running decayed sums of a batch for one kind of key. Every key's entries live in the same
 * parallel arrays, linked per key in the order of their first addition, so that a key costs one
 * small object, and `build` lays each key's entries out together.
 */
class DecayChains<Name> {
  private readonly byKey = new Map<string, DecayChain<Name>>();
  private readonly names: Name[] = [];
  private readonly sums: number[] = [];
  private readonly referencesMs: number[] = [];
  private readonly halfLivesMs: number[] = [];
  /** The next entry of the same key, or -1. */
  private readonly next: number[] = [];

  /**
   * The chain found last: planning adds to one key several times in a row (an item's record, a
   * session's affinity per category), so those additions skip the map lookup.
   */
  private lastChain: DecayChain<Name> | undefined;

  /** Returns the chain of `key`, starting one with `integerScale` and `layout` when the batch has none. */
  chainOf(key: string, integerScale: number, layout: PackedLayout | undefined): DecayChain<Name> {
    if (this.lastChain?.key === key) {
      return this.lastChain;
    }
    let chain = this.byKey.get(key);
    if (chain === undefined) {
      chain = { key, first: -1, last: -1, count: 0, entries: undefined, integerScale, layout };
      this.byKey.set(key, chain);
    }
    this.lastChain = chain;
    return chain;
  }

  /** Returns the entry of `name` in `chain`, or -1 when the batch has not added to it yet. */
  indexOf(chain: DecayChain<Name>, name: Name): number {
    if (chain.entries !== undefined) {
      return chain.entries.get(name) ?? -1;
    }
    for (let entry = chain.first; entry >= 0; entry = this.next[entry] as number) {
      if (this.names[entry] === name) {
        return entry;
      }
    }
    return -1;
  }

  /**
   * Adds w·2^((t − reference) / h) to an entry's running sum, whose reference is the latest time
   * seen. A later addition moves the reference and rescales the sum, so no term exceeds w.
   */
  add(entry: number, weight: number, tMs: number): void {
    const referenceMs = this.referencesMs[entry] as number;
    const halfLifeMs = this.halfLivesMs[entry] as number;
    if (tMs > referenceMs) {
      this.sums[entry] = (this.sums[entry] as number) * 2 ** ((referenceMs - tMs) / halfLifeMs) + weight;
      this.referencesMs[entry] = tMs;
    } else {
      this.sums[entry] = (this.sums[entry] as number) + weight * 2 ** ((tMs - referenceMs) / halfLifeMs);
    }
  }

  /** Appends a new entry to `chain`. */
  push(chain: DecayChain<Name>, name: Name, weight: number, tMs: number, halfLifeMs: number): void {
    const entry = this.names.length;
    this.names.push(name);
    this.sums.push(weight);
    this.referencesMs.push(tMs);
    this.halfLivesMs.push(halfLifeMs);
    this.next.push(-1);
    if (chain.last < 0) {
      chain.first = entry;
    } else {
      this.next[chain.last] = entry;
    }
    chain.last = entry;
    chain.count++;
    if (chain.entries !== undefined) {
      chain.entries.set(name, entry);
    } else if (chain.count > LINEAR_SEARCH_MAX) {
      chain.entries = new Map();
      for (let known = chain.first; known >= 0; known = this.next[known] as number) {
        chain.entries.set(this.names[known] as Name, known);
      }
    }
  }

  /** Returns the chains in the order of their keys' first addition. */
  chains(): Array<DecayChain<Name>> {
    return [...this.byKey.values()];
  }

  build(): DecayEntries<Name> {
    const built: DecayEntries<Name> = { keys: [], counts: [], names: [], sums: [], referencesMs: [], halfLivesMs: [] };
    this.byKey.forEach((chain) => {
      built.keys.push(chain.key);
      built.counts.push(chain.count);
      for (let entry = chain.first; entry >= 0; entry = this.next[entry] as number) {
        built.names.push(this.names[entry] as Name);
        built.sums.push(this.sums[entry] as number);
        built.referencesMs.push(this.referencesMs[entry] as number);
        built.halfLivesMs.push(this.halfLivesMs[entry] as number);
      }
    });
    return built;
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
