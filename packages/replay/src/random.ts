/**
 * Seeded pseudo-random numbers. Every random choice of a replay (negative sampling, the random
 * baseline, exploration, bootstrap resampling) derives from the run's seed, so a run is
 * repeatable. Generators come from `seededRandom` of `@nexttap/rank`, the ranker's own.
 */
import { seededRandom } from '@nexttap/rank';

export { seededRandom as createRandom };

/** Derives an independent seed for one use of the run's seed, so each stream of draws stays stable when another changes. */
export function deriveSeed(seed: number, stream: string): number {
  return hashText(stream, seed);
}

/** Returns a float in [0, 1) that depends only on the seed and the text. */
export function hashToUnit(seed: number, text: string): number {
  return hashText(text, seed) / 4_294_967_296;
}

/** Hashes text to 32 bits: FNV-1a over the UTF-16 code units, seeded, then mixed. */
export function hashText(text: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return mix32(hash);
}

/** The 32-bit finaliser of MurmurHash3: spreads every input bit over the output. */
function mix32(value: number): number {
  let mixed = value >>> 0;
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b) >>> 0;
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35) >>> 0;
  return (mixed ^ (mixed >>> 16)) >>> 0;
}

/**
 * Draws up to `count` distinct entries of `pool` for which `isExcluded` is false, uniformly. While
 * the pool is large against `count`, it draws by rejection, which costs about `count` draws instead
 * of a copy of the pool; otherwise, or when rejection stalls, it shuffles the allowed entries.
 */
export function sampleExcluding(pool: readonly string[], count: number, isExcluded: (value: string) => boolean, random: () => number): string[] {
  if (pool.length >= count * 4) {
    const picked = new Set<string>();
    for (let attempt = 0; attempt < count * 20 && picked.size < count; attempt++) {
      const value = pool[Math.floor(random() * pool.length)] as string;
      if (!picked.has(value) && !isExcluded(value)) {
        picked.add(value);
      }
    }
    if (picked.size === count) {
      return [...picked];
    }
  }
  const allowed = pool.filter((value) => !isExcluded(value));
  const taken = Math.min(count, allowed.length);
  for (let index = 0; index < taken; index++) {
    const pick = index + Math.floor(random() * (allowed.length - index));
    [allowed[index], allowed[pick]] = [allowed[pick] as string, allowed[index] as string];
  }
  return allowed.slice(0, taken);
}
