import { Counter, type Logger, type Registry } from '@nexttap/observability';
import type { MemoryEviction } from '@nexttap/store';

/** Bytes in one MB of MEMORY_STORE_MAX_MB: a binary megabyte (MiB). */
export const BYTES_PER_MB = 1_048_576;

/**
 * Returns the `onEviction` callback of the in-memory store: it counts evicted keys in
 * `nexttap_memory_store_evicted_keys_total` and logs one warning when eviction starts, and one
 * when the keys that are never evicted alone exceed the limit, rather than one per key.
 */
export function reportMemoryStoreEvictions(logger: Logger, metrics: Registry | undefined): (eviction: MemoryEviction) => void {
  const evictedKeys = new Counter({
    name: 'nexttap_memory_store_evicted_keys_total',
    help: 'Live keys the in-memory store evicted to stay under MEMORY_STORE_MAX_MB',
    registers: metrics === undefined ? [] : [metrics],
  });
  let evictionLogged = false;
  let overLimitLogged = false;
  return (eviction) => {
    evictedKeys.inc(eviction.evictedKeys);
    if (!evictionLogged && eviction.evictedKeys > 0) {
      evictionLogged = true;
      logger.warn(
        { maxBytes: eviction.maxBytes, estimatedBytes: eviction.estimatedBytes, evictedKeys: eviction.evictedKeys },
        'memory store reached MEMORY_STORE_MAX_MB and started evicting keys',
      );
    }
    if (!overLimitLogged && eviction.estimatedBytes > eviction.maxBytes) {
      overLimitLogged = true;
      logger.warn(
        { maxBytes: eviction.maxBytes, estimatedBytes: eviction.estimatedBytes },
        'memory store is over MEMORY_STORE_MAX_MB with only items and pools left; raise MEMORY_STORE_MAX_MB',
      );
    }
  };
}
