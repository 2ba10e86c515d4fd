export * from './feature-store';
export * from './memory-store';
export { EVICTION_TIERS, type EvictionTier } from './memory-eviction';
export * from './redis-store';
export { CommandBatch, type CommandReply, type PlainWriteQueue } from './command-batch';
export * from './redis-cluster-store';
