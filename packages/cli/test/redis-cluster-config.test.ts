import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../src/index';
import { configErrorOf } from './config-errors';

describe('REDIS_CLUSTER_NODES', () => {
  it('splits the node list', () => {
    const config = parseServerConfig({ REDIS_CLUSTER_NODES: '10.0.0.5:6379, redis-1:7000,[::1]:7001' });
    expect(config.process.redisClusterNodes).toEqual(['10.0.0.5:6379', 'redis-1:7000', '[::1]:7001']);
  });

  it.each([',', ' , ', 'redis-1:7000,'])('rejects the empty entry in %j', (value) => {
    expect(configErrorOf({ REDIS_CLUSTER_NODES: value })).toContain(`REDIS_CLUSTER_NODES=${JSON.stringify(value)}: has an empty entry; remove the extra comma`);
  });

  it('rejects a blank value', () => {
    expect(configErrorOf({ REDIS_CLUSTER_NODES: ' ' })).toContain('REDIS_CLUSTER_NODES=" ": is blank; list host:port addresses such as 10.0.0.5:6379');
  });

  it('defaults to no cluster', () => {
    expect(parseServerConfig({}).process.redisClusterNodes).toEqual([]);
  });

  it('rejects a node without a port', () => {
    expect(configErrorOf({ REDIS_CLUSTER_NODES: 'redis-1:7000,redis-2' })).toContain('REDIS_CLUSTER_NODES="redis-1:7000,redis-2": "redis-2" is not a node address');
  });

  it('rejects a port out of range', () => {
    expect(configErrorOf({ REDIS_CLUSTER_NODES: 'redis-1:70000' })).toContain('"redis-1:70000" is not a node address');
  });

  it('rejects REDIS_URL alongside it', () => {
    expect(configErrorOf({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' })).toContain('REDIS_URL and REDIS_CLUSTER_NODES are both set');
  });

  it('rejects a key prefix with a hash tag', () => {
    expect(configErrorOf({ REDIS_CLUSTER_NODES: 'b:7000', REDIS_KEY_PREFIX: '{nt}:' })).toContain('REDIS_KEY_PREFIX="{nt}:": on Redis Cluster');
  });

  it('reports its problems with the others', () => {
    const message = configErrorOf({ PORT: 'eighty', REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' });
    expect(message).toContain('PORT="eighty"');
    expect(message).toContain('REDIS_URL and REDIS_CLUSTER_NODES are both set');
  });
});
