import type { Interaction } from '@nexttap/events';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { describe, expect, it } from 'vitest';
import { aggregateWrites, FEATURE_SETTINGS, planInteraction, toRecentEntry, type PlannedWrite, type RecentEntry } from '../src/index';

const MOVIELENS_DIR = new URL('../../../data/movielens', import.meta.url).pathname;

/** Plans events as applyInteractions does, each with the session's recent events before it. */
async function planMovieLens(count: number): Promise<PlannedWrite[]> {
  const catalog = new Map((await readMovieLensCatalog(MOVIELENS_DIR)).map((item) => [item.itemId, item]));
  const events: Interaction[] = (await readMovieLensEvents(MOVIELENS_DIR)).slice(0, count);
  const recentBySession = new Map<string, RecentEntry[]>();
  return events.map((event, index) => {
    const recent = recentBySession.get(event.sessionId) ?? [];
    // Every third event gets a dwell and loses its user, and every eleventh has no catalog record,
    // so every branch of planning runs.
    const varied: Interaction = index % 3 === 0 ? { ...event, dwellMs: index % 7_000, userId: undefined } : event;
    const item = index % 11 === 0 ? undefined : catalog.get(event.itemId);
    recentBySession.set(event.sessionId, [toRecentEntry(varied), ...recent].slice(0, FEATURE_SETTINGS.sessionRecentMax));
    return planInteraction(varied, item, { recent });
  });
}

describe('planInteraction', () => {
  it('merges the same batch through planInto as through operations', async () => {
    const writes = await planMovieLens(3_000);
    const asObjects = writes.map((write) => ({ dedupKey: write.dedupKey, dedupTtlMs: write.dedupTtlMs, operations: [...write.operations] }));
    const direct = await planMovieLens(3_000);
    expect(direct.every((write) => write.planInto !== undefined)).toBe(true);
    expect(aggregateWrites(direct)).toStrictEqual(aggregateWrites(asObjects));
  });

  it('sends a changed operations array to planInto', async () => {
    const [write] = await planMovieLens(1);
    const extra = { op: 'expire' as const, key: 'extra-key', ttlMs: 1_000 };
    write?.operations.push(extra);
    const { batch } = aggregateWrites(write === undefined ? [] : [write]);
    expect(batch.expires).toContainEqual(['extra-key', 1_000]);
  });

  it('keeps the plan out of a spread copy', async () => {
    const [write] = await planMovieLens(1);
    const copy = { ...write, operations: [] };
    expect(copy.planInto).toBeUndefined();
    expect(copy.dedupKey).toBe(write?.dedupKey);
  });
});
