export * from './config';
export * from './errors';
export * from './feed-request';
export * from './ranker';
