import { randomBytes } from 'node:crypto';

export { startMockKafka, type MockKafka, type MockKafkaOptions, type MockKafkaTopic } from './mock-kafka';
export { startRedisServer, type RedisServer } from './redis-server';
export { startRedisCluster, type RedisCluster, type RedisClusterOptions } from './redis-cluster';

let uniqueNameCounter = 0;

/**
 * Returns `prefix` followed by a suffix that differs on every call, for
 * topic, consumer group and key names that must not collide between tests
 * or parallel test processes. The suffix contains only lowercase letters,
 * digits and '-', so the result is a legal Kafka topic name whenever the
 * prefix is one and the whole stays within 249 characters.
 */
export function uniqueName(prefix: string): string {
  uniqueNameCounter += 1;
  const processId = process.pid.toString(36);
  const random = randomBytes(4).toString('hex');
  return `${prefix}-${processId}-${uniqueNameCounter.toString(36)}-${random}`;
}
