import { covisitSources, FEATURE_SETTINGS, keys, type ReadRequest, type ReadResult, type SessionSnapshot } from '@nexttap/features';

/** Neighbours read per recent item; the store keeps at most this many per item. */
export const COVISIT_NEIGHBOURS_PER_SEED = FEATURE_SETTINGS.covisitMaxNeighbours;

/**
 * Returns the session's recent engaged items whose co-visitation neighbours become candidates,
 * newest first: the same items whose lists give the `covisitScore` feature.
 */
export function covisitSeeds(session: SessionSnapshot): string[] {
  return covisitSources(session);
}

/** Builds one read of the neighbour list per seed, all sent in one round trip. */
export function covisitReadRequests(seeds: readonly string[], perSeed: number = COVISIT_NEIGHBOURS_PER_SEED): ReadRequest[] {
  return seeds.map((itemId) => ({ kind: 'zsetTop', key: keys.itemCovisit(itemId), limit: perSeed }));
}

/**
 * Merges the seeds' neighbour lists into one list, best first. Each list's scores are divided by
 * its top score, because every sorted set decays against its own landmark and raw scores of two
 * sets cannot be compared. A seed's weight halves with each newer seed before it. The seeds
 * themselves are left out.
 */
export function mergeNeighbours(seeds: readonly string[], results: readonly ReadResult[]): string[] {
  const weights = new Map<string, number>();
  seeds.forEach((_, seedIndex) => {
    const result = results[seedIndex];
    if (result?.kind !== 'zsetTop') {
      return;
    }
    const top = result.value[0]?.score ?? 0;
    if (!(top > 0)) {
      return;
    }
    const seedWeight = 0.5 ** seedIndex;
    for (const { member, score } of result.value) {
      weights.set(member, (weights.get(member) ?? 0) + seedWeight * (score / top));
    }
  });
  for (const seed of seeds) {
    weights.delete(seed);
  }
  return [...weights].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([itemId]) => itemId);
}
