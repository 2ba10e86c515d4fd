export * from './clients';
export * from './import-command';
export * from './process-config';
export * from './run-server';
export * from './seed';
export * from './server';
export * from './reference-docs';
export * from './memory-store-evictions';
