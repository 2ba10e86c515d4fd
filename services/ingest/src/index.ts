export * from './collector-route';
export * from './config';
export * from './dead-letter';
export * from './errors';
export * from './ingest-processor';
export * from './openapi';
export * from './attribution';
