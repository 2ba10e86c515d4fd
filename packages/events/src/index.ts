export * from './catalog';
export * from './ids';
export * from './interaction';
export * from './timestamp';
export * from './validation';
export { quoteJsonString } from './describe-value';
