export * from './errors';
export * from './event-bus';
export * from './in-process-bus';
export * from './kafka-bus';
export * from './kafka-options';
export * from './redelivery-backoff';
export * from './topics';
export { partitionForKey } from './partitioner';
export { brokerAddressProblem } from './broker-address';
