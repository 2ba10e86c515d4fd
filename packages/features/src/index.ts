export * from './decay';
export * from './keys';
export * from './matrix';
export * from './operations';
export * from './plan';
export * from './registry';
export * from './settings';
export * from './snapshots';
