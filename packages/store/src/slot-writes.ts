import { ZSET_LANDMARK_SUFFIX, type PlannedWrite, type WriteOperation } from '@nexttap/features';
import { keySlot, slotTag } from './key-slot';

/** The parts of a batch's writes that fall into one hash slot, applied by one script call. */
export interface SlotGroup {
  slot: number;
  /** A key of the slot, passed as the script's only declared key so that the cluster routes the call. */
  routingKey: string;
  /** One part per write that has operations in the slot, with the marker of that slot as its dedup key. */
  writes: PlannedWrite[];
  /** For each part, the position of its write in the input of `splitWritesBySlot`. */
  writeIndexes: number[];
}

/**
 * A batch split for Redis Cluster in two phases. `remote` contains every write's operations
 * outside its home slot (the slot of its dedup key) and all operations of writes without a dedup
 * key. `home` contains the operations in the home slot, marked by the dedup key itself. Applying
 * every remote group before any home group makes the dedup key a proof that all parts were applied.
 */
export interface SlotWritePlan {
  remote: SlotGroup[];
  home: SlotGroup[];
}

/**
 * Splits writes per hash slot. A remote part's dedup key is `remoteMarkerKey(prefix, slot,
 * dedupKey)`, one per (slot, write), so each part is applied at most once even when a crash stops
 * the batch between slots. A write with a dedup key always gets a home part, even without
 * operations there, so that its dedup key is set. Throws when an operation needs two slots.
 */
export function splitWritesBySlot(writes: readonly PlannedWrite[], prefix: string): SlotWritePlan {
  const remote = new SlotGroups();
  const home = new SlotGroups();
  const slots = new SlotCache();
  writes.forEach((write, writeIndex) => {
    const homeSlot = write.dedupKey === undefined ? undefined : slots.of(write.dedupKey);
    const partsBySlot = new Map<number, WriteOperation[]>();
    if (homeSlot !== undefined) {
      partsBySlot.set(homeSlot, []);
    }
    for (const operation of write.operations) {
      const slot = slotOfOperation(operation, slots);
      const part = partsBySlot.get(slot);
      if (part === undefined) {
        partsBySlot.set(slot, [operation]);
      } else {
        part.push(operation);
      }
    }
    for (const [slot, operations] of partsBySlot) {
      if (write.dedupKey === undefined) {
        remote.add(slot, operations[0]?.key ?? '', { operations }, writeIndex);
      } else if (slot === homeSlot) {
        home.add(slot, write.dedupKey, { dedupKey: write.dedupKey, dedupTtlMs: write.dedupTtlMs, operations }, writeIndex);
      } else {
        const dedupKey = remoteMarkerKey(prefix, slot, write.dedupKey.slice(prefix.length));
        remote.add(slot, dedupKey, { dedupKey, dedupTtlMs: write.dedupTtlMs, operations }, writeIndex);
      }
    }
  });
  return { remote: remote.list(), home: home.list() };
}

/**
 * Builds the key that marks a write's part in `slot` as applied: the prefix, `m:`, the slot's hash
 * tag, then the write's own dedup key without the prefix, for example `nt:m:{4ab}:s:{session}:event:e1`.
 */
export function remoteMarkerKey(prefix: string, slot: number, dedupKey: string): string {
  return `${prefix}m:{${slotTag(slot)}}:${dedupKey}`;
}

/** Returns the slot of an operation, checking that every key it touches shares that slot. */
function slotOfOperation(operation: WriteOperation, slots: SlotCache): number {
  const slot = slots.of(operation.key);
  if (operation.op === 'hashSnapshot' && slots.of(operation.snapshotKey) !== slot) {
    throw new Error(
      `invalid hashSnapshot: key ${operation.key} and snapshot key ${operation.snapshotKey} are in different hash slots; give them the same hash tag`,
    );
  }
  if (operation.op === 'zsetDecayAdd' && slots.of(operation.key + ZSET_LANDMARK_SUFFIX) !== slot) {
    throw new Error(
      `invalid zsetDecayAdd: key ${operation.key} and its landmark key ${operation.key}${ZSET_LANDMARK_SUFFIX} are in different hash slots; give the key a hash tag such as {name}`,
    );
  }
  return slot;
}

/** Slots of the keys seen in one batch, so a key repeated by many events is hashed once. */
class SlotCache {
  private readonly slots = new Map<string, number>();

  of(key: string): number {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = keySlot(key);
      this.slots.set(key, slot);
    }
    return slot;
  }
}

class SlotGroups {
  private readonly groups = new Map<number, SlotGroup>();

  add(slot: number, routingKey: string, write: PlannedWrite, writeIndex: number): void {
    let group = this.groups.get(slot);
    if (group === undefined) {
      group = { slot, routingKey, writes: [], writeIndexes: [] };
      this.groups.set(slot, group);
    }
    group.writes.push(write);
    group.writeIndexes.push(writeIndex);
  }

  list(): SlotGroup[] {
    return [...this.groups.values()];
  }
}
