export * from './feature-store';
export * from './memory-store';
export * from './redis-store';
export * from './redis-cluster-store';
