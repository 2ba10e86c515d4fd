import type { StoredValue } from './memory-store';

/*
 * Estimated heap bytes of stored values, for the memory limit of the in-memory store. The constants
 * were fitted to V8's heap (heapUsed plus arrayBuffers of process.memoryUsage(), after a forced GC)
 * by bench/memory-store-heap.ts on Node 20.20 x64; docs/architecture.md lists the measured figures
 * and the estimate's error. Strings count one byte a character, as V8 stores Latin-1 text; text
 * with other characters takes two and is underestimated.
 */

/** A key's entries in the store's maps, its bookkeeping for eviction, and the value object. */
const KEY_BYTES = 320;
/** Header and padding of a V8 string. */
const STRING_BYTES = 64;
/** A Map with its backing table, beyond its entries. */
const MAP_BYTES = 100;
/** One Map entry: the table slots and the table's spare capacity. */
const MAP_ENTRY_BYTES = 40;
/** A double stored outside a Smi, as hash field values and member scores are. */
const NUMBER_BYTES = 16;
/** A sorted-set member's score cell. */
const SCORE_CELL_BYTES = 16;
/** A Float64Array with its ArrayBuffer, beyond the 8 bytes of each element. */
const TYPED_ARRAY_BYTES = 160;
/** An array's header, and one element slot with spare capacity. */
const ARRAY_BYTES = 32;
const ARRAY_SLOT_BYTES = 8;

/** Returns the estimated heap bytes of one key and its value. */
export function estimateEntryBytes(key: string, value: StoredValue): number {
  return KEY_BYTES + stringBytes(key) + estimateValueBytes(value);
}

function estimateValueBytes(value: StoredValue): number {
  switch (value.type) {
    case 'string':
      return stringBytes(value.text);
    case 'snapshot':
      return TYPED_ARRAY_BYTES + value.values.length * 8;
    case 'hash': {
      let bytes = MAP_BYTES;
      // `forEach`, because `for...of` over a Map allocates a pair per entry.
      value.fields.forEach((field, name) => {
        bytes += MAP_ENTRY_BYTES + stringBytes(name) + (typeof field === 'number' ? NUMBER_BYTES : stringBytes(field));
      });
      return bytes;
    }
    case 'zset':
      // Member lengths are summed as members come and go, so that a pool of 10,000 members costs
      // no scan per write. The cached top members that reads build are left out.
      return MAP_BYTES + value.scores.size * (MAP_ENTRY_BYTES + STRING_BYTES + SCORE_CELL_BYTES + NUMBER_BYTES) + value.memberChars;
    case 'list': {
      let bytes = ARRAY_BYTES;
      for (const item of value.items) {
        bytes += ARRAY_SLOT_BYTES + stringBytes(item);
      }
      return bytes;
    }
  }
}

function stringBytes(text: string): number {
  return STRING_BYTES + text.length;
}
