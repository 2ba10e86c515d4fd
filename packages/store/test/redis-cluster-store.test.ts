import { INTERACTION_TYPES, type CatalogItem, type Interaction } from '@nexttap/events';
import {
  applyCatalogItems,
  applyInteractions,
  keys,
  readItemSnapshots,
  readSessionSnapshot,
  type FeatureStore,
  type ItemSnapshot,
} from '@nexttap/features';
import { startRedisCluster, uniqueName, type RedisCluster } from '@nexttap/testkit';
import { Cluster, type ChainableCommander } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryFeatureStore, RedisClusterFeatureStore } from '../src/index';
import { keySlot, slotTag, SLOT_COUNT } from '../src/key-slot';
import { describeFeatureStoreContract } from './store-contract';

let server: RedisCluster | undefined;
let client: Cluster | undefined;

/** Connects to the cluster that every test of this file shares, because starting one takes about 2 s. */
async function connectCluster(): Promise<Cluster> {
  server ??= await startRedisCluster();
  if (client === undefined) {
    client = new Cluster([...server.nodes], { lazyConnect: true });
    await client.connect();
  }
  return client;
}

describeFeatureStoreContract(
  'redis cluster',
  async () => new RedisClusterFeatureStore(await connectCluster(), { keyPrefix: `${uniqueName('contract')}:` }),
  async () => {},
);

afterAll(async () => {
  await client?.quit();
  await server?.stop();
});

const START_MS = Date.parse('2026-03-01T12:00:00Z');
const CATEGORIES = ['drama', 'comedy', 'horror', 'music', 'sport'];

function buildCatalog(): CatalogItem[] {
  return Array.from({ length: 40 }, (_, index) => ({
    itemId: `item-${index}`,
    categories: [CATEGORIES[index % 5] as string, CATEGORIES[(index * 3 + 1) % 5] as string],
    creatorId: `creator-${index % 7}`,
    publishedAt: START_MS - index * 60_000,
  }));
}

/** Deterministic events over 12 sessions, 4 users and 40 items, every type, some with dwell. */
function buildEvents(count: number, seed: string): Interaction[] {
  return Array.from({ length: count }, (_, index) => {
    const sessionIndex = (index * 7) % 12;
    const event: Interaction = {
      eventId: `${seed}-${index}`,
      type: INTERACTION_TYPES[(index * 5) % INTERACTION_TYPES.length] as Interaction['type'],
      ts: START_MS + index * 1_000,
      sessionId: `${seed}-session-${sessionIndex}`,
      itemId: `item-${(index * 13) % 40}`,
    };
    if (sessionIndex % 3 !== 0) {
      event.userId = `${seed}-user-${sessionIndex % 4}`;
    }
    if (index % 4 === 0) {
      event.dwellMs = (index % 9) * 1_000;
    }
    return event;
  });
}

/** Reads what a ranker reads about the items and sessions, decayed to one instant. */
async function readState(store: FeatureStore, events: readonly Interaction[]): Promise<{ items: ItemSnapshot[]; sessions: unknown[]; pools: unknown[] }> {
  const nowMs = START_MS + 3_600_000;
  const itemIds = [...new Set(events.map((event) => event.itemId))].sort();
  const sessionIds = [...new Set(events.map((event) => event.sessionId))].sort();
  const sessions = [];
  for (const sessionId of sessionIds) {
    const userId = events.find((event) => event.sessionId === sessionId)?.userId;
    const { session, user } = await readSessionSnapshot(store, sessionId, userId, nowMs);
    sessions.push({ session, user });
  }
  const poolKeys = [keys.poolPopular(), keys.poolTrending(), ...CATEGORIES.map((category) => keys.poolCategory(category)), ...itemIds.map(keys.itemCovisit)];
  const pools = await store.read(poolKeys.map((key) => ({ kind: 'zsetTop' as const, key, limit: 100 })));
  return { items: await readItemSnapshots(store, itemIds, nowMs), sessions, pools };
}

/** Compares two states, numbers within 1e-9 relative, everything else exactly. */
function expectSameState(actual: unknown, expected: unknown, path = 'state'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const tolerance = 1e-9 * Math.max(1, Math.abs(expected));
    expect(Math.abs(actual - expected), `${path}: ${actual} against ${expected}`).toBeLessThanOrEqual(tolerance);
    return;
  }
  if (expected instanceof Map && actual instanceof Map) {
    expectSameState(Object.fromEntries([...actual].sort()), Object.fromEntries([...expected].sort()), path);
    return;
  }
  if (expected instanceof Set && actual instanceof Set) {
    expect([...actual].sort(), path).toEqual([...expected].sort());
    return;
  }
  if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    expect(Object.keys(actual).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [name, value] of Object.entries(expected)) {
      expectSameState((actual as Record<string, unknown>)[name], value, `${path}.${name}`);
    }
    return;
  }
  expect(actual, path).toEqual(expected);
}

/**
 * Makes a pipeline fail instead of sending, as a crash would, when `failing` returns true for the
 * routing keys of the apply-script calls it carries. Returns a function that undoes it.
 */
function injectPipelineFailures(cluster: Cluster, failing: (routingKeys: readonly string[]) => boolean): () => void {
  const original = cluster.pipeline.bind(cluster);
  cluster.pipeline = ((...args: Parameters<Cluster['pipeline']>): ChainableCommander => {
    const pipeline = original(...args);
    const routingKeys: string[] = [];
    const applySlot = pipeline.nexttapApplySlot.bind(pipeline);
    pipeline.nexttapApplySlot = (routingKey: string, batch: Buffer) => {
      routingKeys.push(routingKey);
      return applySlot(routingKey, batch);
    };
    const exec = pipeline.exec.bind(pipeline);
    pipeline.exec = () => (failing(routingKeys) ? Promise.reject(new Error('injected failure of a node pipeline')) : exec());
    return pipeline;
  }) as Cluster['pipeline'];
  return () => {
    cluster.pipeline = original;
  };
}

/** Counts the keys matching a pattern on every master. */
async function countKeys(cluster: Cluster, pattern: string): Promise<number> {
  const counts = await Promise.all(cluster.nodes('master').map(async (node) => (await node.keys(pattern)).length));
  return counts.reduce((sum, count) => sum + count, 0);
}

describe('redis cluster feature store', () => {
  let cluster: Cluster;
  const catalog = buildCatalog();

  beforeAll(async () => {
    cluster = await connectCluster();
  });

  async function openStores(): Promise<{ clustered: RedisClusterFeatureStore; reference: MemoryFeatureStore; prefix: string }> {
    const prefix = `${uniqueName('cluster')}:`;
    const clustered = new RedisClusterFeatureStore(cluster, { keyPrefix: prefix });
    const reference = new MemoryFeatureStore({ sweepIntervalMs: 0, now: () => START_MS });
    await applyCatalogItems(clustered, catalog);
    await applyCatalogItems(reference, catalog);
    return { clustered, reference, prefix };
  }

  it('computes the same features as the memory store', async () => {
    const { clustered, reference } = await openStores();
    const events = buildEvents(600, 'same');
    for (let start = 0; start < events.length; start += 200) {
      expect(await applyInteractions(clustered, events.slice(start, start + 200))).toEqual(events.slice(start, start + 200).map(() => true));
      await applyInteractions(reference, events.slice(start, start + 200));
    }
    expectSameState(await readState(clustered, events), await readState(reference, events));
  });

  it('writes keys on every master', async () => {
    const prefix = `${uniqueName('spread')}:`;
    const store = new RedisClusterFeatureStore(cluster, { keyPrefix: prefix });
    await applyCatalogItems(store, catalog);
    await applyInteractions(store, buildEvents(100, 'spread'));
    const perNode = await Promise.all(cluster.nodes('master').map(async (node) => (await node.keys(`${prefix}*`)).length));
    expect(perNode).toHaveLength(3);
    for (const count of perNode) {
      expect(count).toBeGreaterThan(0);
    }
  });

  it('applies a redelivered batch once', async () => {
    const { clustered, reference } = await openStores();
    const events = buildEvents(150, 'again');
    await applyInteractions(clustered, events);
    await applyInteractions(reference, events);
    expect(await applyInteractions(clustered, events)).toEqual(events.map(() => false));
    expectSameState(await readState(clustered, events), await readState(reference, events));
  });

  it('applies each slot once after a crash between nodes', async () => {
    const { clustered, reference, prefix } = await openStores();
    const events = buildEvents(300, 'crash');
    let failed = false;
    const restore = injectPipelineFailures(cluster, (routingKeys) => {
      if (failed || routingKeys.length === 0) {
        return false;
      }
      failed = true;
      return true;
    });
    await expect(applyInteractions(clustered, events)).rejects.toThrow(/injected failure/);
    restore();
    // The other nodes applied their slots: their markers exist, but no dedup key yet.
    expect(await countKeys(cluster, `${prefix}m:{*`)).toBeGreaterThan(0);
    expect(await countKeys(cluster, `${prefix}s:*:event:*`)).toBe(0);

    expect(await applyInteractions(clustered, events)).toEqual(events.map(() => true));
    expect(await countKeys(cluster, `${prefix}m:{*`)).toBe(0);
    await applyInteractions(reference, events);
    expectSameState(await readState(clustered, events), await readState(reference, events));
  });

  it('applies each slot once after a crash before the home slots', async () => {
    const { clustered, reference, prefix } = await openStores();
    const events = buildEvents(300, 'home');
    const isRemoteMarker = (key: string) => key.startsWith(`${prefix}m:{`);
    const restore = injectPipelineFailures(cluster, (routingKeys) => routingKeys.length > 0 && !routingKeys.some(isRemoteMarker));
    await expect(applyInteractions(clustered, events)).rejects.toThrow(/injected failure/);
    restore();
    expect(await countKeys(cluster, `${prefix}m:{*`)).toBeGreaterThan(0);
    expect(await countKeys(cluster, `${prefix}s:*:event:*`)).toBe(0);

    expect(await applyInteractions(clustered, events)).toEqual(events.map(() => true));
    expect(await countKeys(cluster, `${prefix}s:*:event:*`)).toBe(events.length);
    expect(await countKeys(cluster, `${prefix}m:{*`)).toBe(0);
    await applyInteractions(reference, events);
    expectSameState(await readState(clustered, events), await readState(reference, events));
  });

  it('reads snapshots of many slots in key order', async () => {
    const { clustered } = await openStores();
    await applyInteractions(clustered, buildEvents(200, 'order'));
    const itemIds = catalog.map((item) => item.itemId).reverse();
    const [snapshots, strings] = await clustered.read([
      { kind: 'snapshots', keys: [...itemIds.map(keys.itemSnapshot), keys.itemSnapshot('missing')] },
      { kind: 'strings', keys: itemIds.map(keys.itemCatalog) },
    ]);
    const catalogIds = strings?.kind === 'strings' ? strings.value.map((text) => (JSON.parse(text ?? '{}') as CatalogItem).itemId) : [];
    expect(catalogIds).toEqual(itemIds);
    const values = snapshots?.kind === 'snapshots' ? snapshots.value : [];
    expect(values).toHaveLength(itemIds.length + 1);
    expect(values.at(-1)).toBeNull();
  });

  it('rejects a key prefix with a hash tag', () => {
    expect(() => new RedisClusterFeatureStore(cluster, { keyPrefix: '{nt}:' })).toThrow(/must not contain \{ or \}/);
  });

  it('rejects a decayed sorted set without a hash tag', async () => {
    const store = new RedisClusterFeatureStore(cluster, { keyPrefix: `${uniqueName('untagged')}:` });
    const write = { operations: [{ op: 'zsetDecayAdd' as const, key: 'pool-without-tag', member: 'a', weight: 1, tMs: START_MS, halfLifeMs: 1_000, maxMembers: 10 }] };
    await expect(store.apply([write])).rejects.toThrow(/different hash slots; give the key a hash tag/);
  });
});

describe('keySlot', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await connectCluster();
  });

  it('matches CLUSTER KEYSLOT', async () => {
    const samples = ['a', 'nt:s:{session-1}:recent', '{}empty-tag', 'x{}{y}', 'café:{naïve}', '{😀}:emoji', 'no-brace}{', '123456789'];
    for (const key of samples) {
      expect(keySlot(key), key).toBe(Number(await cluster.cluster('KEYSLOT', key)));
    }
  });

  it('returns a tag for every slot', () => {
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      expect(keySlot(`{${slotTag(slot)}}`)).toBe(slot);
    }
  });
});
