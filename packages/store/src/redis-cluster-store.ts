import { aggregateWrites, type PlannedWrite, type ReadRequest, type ReadResult } from '@nexttap/features';
import type { Cluster, Result } from 'ioredis';
import { ClusterReadQueue } from './cluster-reads';
import type { FeatureStore } from './feature-store';
import { prefixWrite } from './key-prefix';
import { NodePipelines } from './node-pipelines';
import { decodeReads, queueReads } from './redis-reads';
import { APPLY_SCRIPT } from './redis-store';
import { encodeScriptArgument } from './script-batch';
import { splitWritesBySlot, type SlotGroup } from './slot-writes';

export interface RedisClusterFeatureStoreOptions {
  /**
   * Prefix of every key, so that several deployments or tests share one cluster. It must not
   * contain `{` or `}`, because a hash tag in the prefix would move every key into one slot. Default ''.
   */
  keyPrefix?: string;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    nexttapApplySlot(routingKey: string, batch: Buffer): Result<number[], Context>;
  }
}

/**
 * Feature store on Redis Cluster. A Lua script may only touch keys of one hash slot there, so each
 * batch is split per slot and the apply script runs once per slot, one pipeline per master node,
 * all nodes in parallel.
 *
 * Exactly-once: a write's home slot is the slot of its dedup key (the session's slot). Its part in
 * any other slot carries a marker key of its own in that slot, which the script call that applies
 * the part checks and sets. Home parts run only after every other part of the batch succeeded,
 * so a present dedup key means the whole write was applied: such writes are dropped before
 * anything runs. A crash between slots leaves some markers set, and the redelivered batch then
 * skips exactly the parts that were applied. Once the home parts are applied the markers have no
 * further use, so they are deleted; a crash before that leaves them to their TTL (the dedup TTL).
 */
export class RedisClusterFeatureStore implements FeatureStore {
  private readonly prefix: string;

  constructor(
    private readonly cluster: Cluster,
    options: RedisClusterFeatureStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? '';
    if (/[{}]/.test(this.prefix)) {
      throw new Error(`invalid keyPrefix "${this.prefix}": on Redis Cluster it must not contain { or }, which would make it the hash tag of every key`);
    }
    if (typeof (cluster as Partial<Cluster>).nexttapApplySlot !== 'function') {
      cluster.defineCommand('nexttapApplySlot', { numberOfKeys: 1, lua: APPLY_SCRIPT });
    }
  }

  async apply(writes: readonly PlannedWrite[]): Promise<boolean[]> {
    const prefixed = writes.map((write) => prefixWrite(write, this.prefix));
    const candidates = await this.dropAppliedWrites(prefixed);
    const plan = splitWritesBySlot(
      candidates.map((index) => prefixed[index] as PlannedWrite),
      this.prefix,
    );
    await this.applyGroups(plan.remote);
    const homeApplied = await this.applyGroups(plan.home);
    await this.deleteRemoteMarkers(plan.remote);

    const applied = writes.map(() => false);
    for (const index of candidates) {
      if (prefixed[index]?.dedupKey === undefined) {
        applied[index] = true;
      }
    }
    plan.home.forEach((group, groupIndex) => {
      group.writeIndexes.forEach((candidate, position) => {
        applied[candidates[candidate] as number] = homeApplied[groupIndex]?.[position] === true;
      });
    });
    return applied;
  }

  async read(requests: readonly ReadRequest[]): Promise<ReadResult[]> {
    const queue = new ClusterReadQueue(this.cluster);
    queueReads(queue, requests, this.prefix);
    return decodeReads(requests, await queue.exec());
  }

  async close(): Promise<void> {
    // The caller owns the client and quits it during its ordered shutdown.
  }

  /**
   * Returns the positions of the writes still to apply: writes without a dedup key, and the first
   * write of each dedup key that is not yet set in Redis (checked with one MGET per slot). A
   * write whose dedup key is set must not reach the slot markers: it was planned again from session
   * state that already contains it, so its operations may fall into slots that have no marker.
   */
  private async dropAppliedWrites(writes: readonly PlannedWrite[]): Promise<number[]> {
    const seen = new Set<string>();
    const candidates: number[] = [];
    writes.forEach((write, index) => {
      if (write.dedupKey === undefined) {
        candidates.push(index);
      } else if (!seen.has(write.dedupKey)) {
        seen.add(write.dedupKey);
        candidates.push(index);
      }
    });
    const marked = candidates.filter((index) => writes[index]?.dedupKey !== undefined);
    if (marked.length === 0) {
      return candidates;
    }
    const queue = new ClusterReadQueue(this.cluster);
    queue.mget(marked.map((index) => writes[index]?.dedupKey as string));
    const [values] = (await queue.exec()) as [Array<string | null>];
    const applied = new Set(marked.filter((_, position) => values[position] !== null));
    return candidates.filter((index) => !applied.has(index));
  }

  /**
   * Runs the apply script once per slot group, all groups at once. A group whose markers partly
   * exist (a batch redelivered after a crash between slots) writes nothing and names them. Those
   * parts are dropped and the group runs again, so every loop drops at least one part. Returns,
   * per group and part, whether the part was applied.
   */
  private async applyGroups(groups: readonly SlotGroup[]): Promise<boolean[][]> {
    const applied = groups.map((group) => group.writes.map(() => false));
    let pending = groups.map((group, groupIndex) => ({ group, groupIndex, positions: group.writes.map((_, position) => position) }));
    while (pending.length > 0) {
      const pipelines = new NodePipelines(this.cluster);
      const calls = pending.map((entry) => {
        const { batch, included } = aggregateWrites(entry.positions.map((position) => entry.group.writes[position] as PlannedWrite));
        const argument = encodeScriptArgument(batch);
        const command = pipelines.queue(entry.group.slot, (pipeline) => pipeline.nexttapApplySlot(entry.group.routingKey, argument));
        return { entry, batch, included, command };
      });
      await pipelines.exec();
      pending = [];
      for (const { entry, batch, included, command } of calls) {
        const existing = this.replyOf(pipelines, command, entry.group);
        if (existing.length === 0) {
          included.forEach((isIncluded, position) => {
            (applied[entry.groupIndex] as boolean[])[entry.positions[position] as number] = isIncluded;
          });
          continue;
        }
        const duplicates = new Set(existing.map((position) => batch.writeIndexes[position - 1]));
        pending.push({ ...entry, positions: entry.positions.filter((_, position) => !duplicates.has(position)) });
      }
      pending = pending.filter((entry) => entry.positions.length > 0);
    }
    return applied;
  }

  /**
   * Deletes the markers of the remote parts, with one UNLINK per slot. A failure is ignored,
   * because the home parts are applied: the markers only take memory until their TTL ends.
   */
  private async deleteRemoteMarkers(groups: readonly SlotGroup[]): Promise<void> {
    const pipelines = new NodePipelines(this.cluster);
    for (const group of groups) {
      const markers = group.writes.flatMap((write) => (write.dedupKey === undefined ? [] : [write.dedupKey]));
      if (markers.length > 0) {
        pipelines.queue(group.slot, (pipeline) => pipeline.unlink(...markers));
      }
    }
    await pipelines.exec().catch(() => undefined);
  }

  private replyOf(pipelines: NodePipelines, command: ReturnType<NodePipelines['queue']>, group: SlotGroup): number[] {
    try {
      return pipelines.reply(command) as number[];
    } catch (error) {
      throw new Error(`applying feature writes to hash slot ${group.slot} (key ${group.routingKey}) failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
