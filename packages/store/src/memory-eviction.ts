/**
 * Eviction tiers of the in-memory store, evicted in this order: every unit of a tier goes before
 * any unit of the next, and within a tier the unit written longest ago goes first.
 *
 * - Request records: served feed records (`s:{session}:feed:<feedId>`, written by the ranker) and
 *   event dedup keys (`s:{session}:event:<eventId>`). Each is read again only by key, for a later
 *   page, an attribution or a redelivered event, and that becomes less likely with age. A lost
 *   record makes a later page or attribution see an expired feed, and a lost dedup key lets a
 *   redelivery of that event count twice. Each key is a unit of its own.
 * - Session state: every other key of one session (recent events, affinity, interacted, seen,
 *   counters, served history) as one unit, so that a session is either whole or starts over, never
 *   half there. Oldest write first means idle sessions go before active ones.
 * - User state: both keys of one user as one unit. A user's history spans sessions, so it goes last.
 *
 * Items, catalog records, pools, the global counters and keys of any other layout are never
 * evicted. Each rank reads them for every request, and a pool or an item's co-visitation set
 * without its landmark key would be read with wrong scores. Their size follows the catalog, not
 * the traffic.
 */
export const EVICTION_TIERS = ['request-record', 'session', 'user'] as const;

export type EvictionTier = (typeof EVICTION_TIERS)[number];

/** Keys that are evicted together, and the tier that orders them. */
export interface EvictionUnit {
  id: string;
  /** Index in `EVICTION_TIERS`. */
  tier: number;
  keys: string[];
}

const REQUEST_RECORD_TIER = EVICTION_TIERS.indexOf('request-record');
const SESSION_TIER = EVICTION_TIERS.indexOf('session');
const USER_TIER = EVICTION_TIERS.indexOf('user');

/**
 * Returns the tier and unit id of a key, or undefined for a key that is never evicted. The layouts
 * are those of `keys` in @nexttap/features and `servedFeedKeys` in @nexttap/rank.
 */
export function evictionUnitOf(key: string): { tier: number; id: string } | undefined {
  const sessionTagEnd = tagEnd(key, 's:{');
  if (sessionTagEnd > 0) {
    if (key.startsWith(':feed:', sessionTagEnd + 1) || key.startsWith(':event:', sessionTagEnd + 1)) {
      return { tier: REQUEST_RECORD_TIER, id: key };
    }
    return { tier: SESSION_TIER, id: key.slice(0, sessionTagEnd + 1) };
  }
  const userTagEnd = tagEnd(key, 'u:{');
  if (userTagEnd > 0) {
    return { tier: USER_TIER, id: key.slice(0, userTagEnd + 1) };
  }
  return undefined;
}

/** Returns the index of the `}` that closes a key's hash tag after `prefix`, or -1. */
function tagEnd(key: string, prefix: string): number {
  return key.startsWith(prefix) ? key.indexOf('}', prefix.length) : -1;
}

/**
 * The estimated size of every key, their sum, and the eviction units in order of their last write.
 * A unit moves to the newest end of its tier whenever one of its keys is recorded.
 */
export class MemoryBudget {
  /** Sum of the recorded sizes, in bytes. */
  estimatedBytes = 0;
  private readonly accounts = new Map<string, { bytes: number; unit: EvictionUnit | undefined }>();
  /** Per tier, the units by id; a Map iterates in insertion order, so the first is the oldest written. */
  private readonly tiers = EVICTION_TIERS.map(() => new Map<string, EvictionUnit>());

  /** Sets the estimated size of a key that was written, and marks its unit as the newest. */
  record(key: string, bytes: number): void {
    let account = this.accounts.get(key);
    if (account === undefined) {
      account = { bytes: 0, unit: this.unitFor(key) };
      account.unit?.keys.push(key);
      this.accounts.set(key, account);
    }
    this.estimatedBytes += bytes - account.bytes;
    account.bytes = bytes;
    const unit = account.unit;
    if (unit !== undefined) {
      const order = this.tiers[unit.tier] as Map<string, EvictionUnit>;
      order.delete(unit.id);
      order.set(unit.id, unit);
    }
  }

  /** Forgets a key that was removed; a unit without keys leaves its tier. */
  forget(key: string): void {
    const account = this.accounts.get(key);
    if (account === undefined) {
      return;
    }
    this.accounts.delete(key);
    this.estimatedBytes -= account.bytes;
    const unit = account.unit;
    if (unit === undefined) {
      return;
    }
    unit.keys.splice(unit.keys.indexOf(key), 1);
    if (unit.keys.length === 0) {
      this.tiers[unit.tier]?.delete(unit.id);
    }
  }

  /** Returns the unit to evict next: the oldest written of the first tier that has one. */
  nextToEvict(): EvictionUnit | undefined {
    for (const order of this.tiers) {
      const oldest = order.values().next();
      if (oldest.done !== true) {
        return oldest.value;
      }
    }
    return undefined;
  }

  private unitFor(key: string): EvictionUnit | undefined {
    const place = evictionUnitOf(key);
    if (place === undefined) {
      return undefined;
    }
    const order = this.tiers[place.tier] as Map<string, EvictionUnit>;
    return order.get(place.id) ?? { id: place.id, tier: place.tier, keys: [] };
  }
}
