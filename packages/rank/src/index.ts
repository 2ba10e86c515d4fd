export * from './candidates';
export * from './pool-cache';
export * from './rank-feed';
