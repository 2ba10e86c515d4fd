export * from './api-error';
export * from './error-handler';
export * from './health-routes';
export * from './lifecycle';
export * from './parse-body';
export * from './fallback-handlers';
export * from './response-metrics';
export * from './openapi';
