export * from './feature-store';
export * from './memory-store';
export { EVICTION_TIERS, type EvictionTier } from './memory-eviction';
export * from './redis-store';
export * from './redis-cluster-store';
