import type { ListQuality } from './point-log';
import { selfInformation } from './metrics';

/**
 * Novelty and category diversity of ranked lists, from the events replayed so far and the items'
 * categories. It gives the values of `selfInformation` and `intraListDiversity` with the same
 * additions in the same order, but keeps each item's categories as a bit set, so a Jaccard
 * distance costs a few integer operations instead of set lookups.
 */
export class ListQualityMeter {
  private readonly categoryBits = new Map<string, number>();
  /** Per item: its categories as bits (bit i of word i >> 5 is category i), and how many there are. */
  private readonly itemCategories = new Map<string, { words: Uint32Array; count: number }>();
  private readonly itemEvents = new Map<string, number>();
  private totalEvents = 0;

  /** Records an item's categories; a later call for the same item replaces them. */
  setCategories(itemId: string, categories: readonly string[]): void {
    const bits = [...new Set(categories)].map((category) => this.bitOf(category));
    const words = new Uint32Array(Math.ceil(this.categoryBits.size / 32));
    for (const bit of bits) {
      words[bit >>> 5] = (words[bit >>> 5] as number) | (1 << (bit & 31));
    }
    this.itemCategories.set(itemId, { words, count: bits.length });
  }

  /** Counts one applied event of an item, for novelty. */
  countEvent(itemId: string): void {
    this.itemEvents.set(itemId, (this.itemEvents.get(itemId) ?? 0) + 1);
    this.totalEvents += 1;
  }

  /** Returns the novelty and diversity of the first k items of `top` for each k of `ks`. */
  measure(top: readonly string[], ks: readonly number[]): ListQuality {
    return {
      novelty: ks.map((k) => this.novelty(top, Math.min(k, top.length))),
      diversity: ks.map((k) => this.diversity(top, Math.min(k, top.length))),
    };
  }

  /** Mean self-information of the first `count` items; NaN for an empty list. */
  private novelty(top: readonly string[], count: number): number {
    if (count === 0) {
      return Number.NaN;
    }
    let sum = 0;
    for (let index = 0; index < count; index++) {
      sum += selfInformation(this.itemEvents.get(top[index] as string) ?? 0, this.totalEvents);
    }
    return sum / count;
  }

  /** Mean pairwise Jaccard distance of the first `count` items' categories; NaN below two items. */
  private diversity(top: readonly string[], count: number): number {
    if (count < 2) {
      return Number.NaN;
    }
    const sets = top.slice(0, count).map((itemId) => this.itemCategories.get(itemId) ?? EMPTY_CATEGORIES);
    let total = 0;
    for (let first = 0; first < count; first++) {
      for (let second = first + 1; second < count; second++) {
        total += jaccardDistance(sets[first] as CategoryBits, sets[second] as CategoryBits);
      }
    }
    return total / ((count * (count - 1)) / 2);
  }

  private bitOf(category: string): number {
    let bit = this.categoryBits.get(category);
    if (bit === undefined) {
      bit = this.categoryBits.size;
      this.categoryBits.set(category, bit);
    }
    return bit;
  }
}

interface CategoryBits {
  words: Uint32Array;
  count: number;
}

const EMPTY_CATEGORIES: CategoryBits = { words: new Uint32Array(0), count: 0 };

function jaccardDistance(a: CategoryBits, b: CategoryBits): number {
  let shared = 0;
  const words = Math.min(a.words.length, b.words.length);
  for (let word = 0; word < words; word++) {
    shared += bitCount((a.words[word] as number) & (b.words[word] as number));
  }
  const union = a.count + b.count - shared;
  return union === 0 ? 0 : 1 - shared / union;
}

/** Counts the set bits of a 32-bit integer (SWAR population count). */
function bitCount(value: number): number {
  const unsigned = value >>> 0;
  let bits = unsigned - ((unsigned >>> 1) & 0x55555555);
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333);
  return (Math.imul((bits + (bits >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
