import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisCluster } from '../src/index';

describe('startRedisCluster', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('starts three masters covering every slot', async () => {
    expect(cluster.nodes).toHaveLength(3);
    const node = new Redis(cluster.nodes[0]!.port, '127.0.0.1');
    try {
      const info = await node.cluster('INFO');
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_assigned:16384');
      expect(info).toContain('cluster_known_nodes:3');
    } finally {
      node.disconnect();
    }
  });

  it('serves keys of every master', async () => {
    const client = new Cluster([...cluster.nodes]);
    try {
      const keys = Array.from({ length: 30 }, (_, index) => `testkit-cluster:${index}`);
      await Promise.all(keys.map((key, index) => client.set(key, String(index))));
      const values = await Promise.all(keys.map((key) => client.get(key)));
      expect(values).toEqual(keys.map((_, index) => String(index)));
      const ports = new Set(client.nodes('master').map((node) => node.options.port));
      expect(ports.size).toBe(3);
    } finally {
      client.disconnect();
    }
  });

  it('stops every node, idempotently', async () => {
    const other = await startRedisCluster();
    await other.stop();
    await other.stop();
    const probe = new Redis(other.nodes[0]!.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    await expect(probe.connect()).rejects.toThrow();
    probe.disconnect();
  });
});
