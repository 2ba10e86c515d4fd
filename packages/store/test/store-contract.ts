import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Interaction } from '@nexttap/events';
import {
  applyInteractions,
  COVISIT_SCORE_SCALE,
  decayedField,
  directDecayedSum,
  keys,
  LANDMARK_FIELD,
  readDecayed,
  readItemSnapshots,
  readSessionSnapshot,
  type PlannedWrite,
} from '@nexttap/features';
import type { FeatureStore } from '../src/index';

const HOUR_MS = 3_600_000;

/** Members added to a capped sorted set one at a time, some raised and some lowered later. */
const RAISE_STEPS: ReadonlyArray<[member: string, score: number]> = [
  ['b', 2],
  ['a', 2],
  ['c', 1],
  ['b', 5],
  ['d', 3],
  ['a', 1],
  ['e', 4],
  ['c', 6],
];

/**
 * Applies `RAISE_STEPS` to `key` one write at a time, bounded at `maxMembers`, and after each
 * step calls `check` with the members the set must hold in ZREVRANGE order (score descending,
 * then member descending) and a label of the step.
 */
async function forEachRaiseStep(
  store: FeatureStore,
  key: string,
  maxMembers: number,
  check: (order: Array<[member: string, score: number]>, step: string) => Promise<void>,
): Promise<void> {
  const expected = new Map<string, number>();
  for (const [member, score] of RAISE_STEPS) {
    await store.apply([{ operations: [{ op: 'zsetAdd', key, member, score, mode: 'max', maxMembers }] }]);
    expected.set(member, Math.max(expected.get(member) ?? score, score));
    const lowest = [...expected].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1));
    while (expected.size > maxMembers) {
      expected.delete((lowest.shift() as [string, number])[0]);
    }
    await check(
      [...expected].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? 1 : -1)),
      `after ${member} ${score}`,
    );
  }
}

/**
 * Behaviour every feature store must share. `open` returns a store with a fresh key space.
 */
export function describeFeatureStoreContract(name: string, open: () => Promise<FeatureStore>, closeAll: () => Promise<void>): void {
  describe(`${name} feature store`, () => {
    let store: FeatureStore;

    beforeAll(async () => {
      store = await open();
    });

    afterAll(async () => {
      await store.close();
      await closeAll();
    });

    it('applies a write once per dedup key', async () => {
      const write: PlannedWrite = {
        dedupKey: 'dedup:a',
        dedupTtlMs: 60_000,
        operations: [{ op: 'hashIncrement', key: 'counter', field: 'n', amount: 1 }],
      };
      expect(await store.apply([write, write])).toEqual([true, false]);
      expect(await store.apply([write])).toEqual([false]);
      const [result] = await store.read([{ kind: 'hash', key: 'counter' }]);
      expect(result).toEqual({ kind: 'hash', value: { n: '1' } });
    });

    it('applies writes without a dedup key every time', async () => {
      const write: PlannedWrite = { operations: [{ op: 'hashIncrement', key: 'repeat', field: 'n', amount: 2 }] };
      expect(await store.apply([write, write])).toEqual([true, true]);
      const [result] = await store.read([{ kind: 'hash', key: 'repeat' }]);
      expect(result).toEqual({ kind: 'hash', value: { n: '4' } });
    });

    it('keeps a list to its maximum length, newest first', async () => {
      const operations = ['a', 'b', 'c', 'd'].map((value) => ({ op: 'listPush' as const, key: 'list', value, maxLength: 3 }));
      await store.apply([{ operations }]);
      const [result] = await store.read([{ kind: 'list', key: 'list', limit: 10 }]);
      expect(result).toEqual({ kind: 'list', value: ['d', 'c', 'b'] });
    });

    it('keeps the highest members of a bounded sorted set', async () => {
      const operations = [5, 1, 4, 2, 3].map((score) => ({
        op: 'zsetAdd' as const,
        key: 'bounded',
        member: `m${score}`,
        score,
        mode: 'set' as const,
        maxMembers: 3,
      }));
      await store.apply([{ operations }]);
      const [result] = await store.read([{ kind: 'zsetTop', key: 'bounded', limit: 10 }]);
      expect(result).toEqual({
        kind: 'zsetTop',
        value: [
          { member: 'm5', score: 5 },
          { member: 'm4', score: 4 },
          { member: 'm3', score: 3 },
        ],
        landmarkMs: 0,
      });
    });

    it('trims tied scores by member', async () => {
      const operations = ['c', 'a', 'f', 'd', 'b', 'e'].map((member) => ({
        op: 'zsetAdd' as const,
        key: 'tied',
        member,
        score: 1,
        mode: 'set' as const,
        maxMembers: 3,
      }));
      await store.apply([{ operations }]);
      const [result] = await store.read([{ kind: 'zsetTop', key: 'tied', limit: 10 }]);
      expect(result).toEqual({
        kind: 'zsetTop',
        value: [
          { member: 'f', score: 1 },
          { member: 'e', score: 1 },
          { member: 'd', score: 1 },
        ],
        landmarkMs: 0,
      });
    });

    it('returns the top of a large sorted set in score order', async () => {
      const scores = Array.from({ length: 500 }, (_, index) => ((index * 7919) % 500) / 10);
      const operations = scores.map((score, index) => ({
        op: 'zsetAdd' as const,
        key: 'large',
        member: `m${String(index).padStart(3, '0')}`,
        score: Math.floor(score),
        mode: 'set' as const,
        maxMembers: 1_000,
      }));
      await store.apply([{ operations }]);
      const [result] = await store.read([{ kind: 'zsetTop', key: 'large', limit: 25 }]);
      const members = result?.kind === 'zsetTop' ? result.value : [];
      const expected = operations
        .map((operation) => ({ member: operation.member, score: operation.score }))
        .sort((a, b) => b.score - a.score || (a.member < b.member ? 1 : -1))
        .slice(0, 25);
      expect(members).toEqual(expected);
    });

    it('keeps the top current while members are added and raised', async () => {
      await forEachRaiseStep(store, 'raised', 4, async (order, step) => {
        // The whole set is read first and last, so the memory store's next write updates a
        // complete cache of the top members and the next read returns it.
        const [whole, top] = await store.read([
          { kind: 'zsetTop', key: 'raised', limit: 10 },
          { kind: 'zsetTop', key: 'raised', limit: 2 },
          { kind: 'zsetTop', key: 'raised', limit: 10 },
        ]);
        const entries = order.map(([member, score]) => ({ member, score }));
        expect(whole, step).toEqual({ kind: 'zsetTop', value: entries, landmarkMs: 0 });
        expect(top, step).toEqual({ kind: 'zsetTop', value: entries.slice(0, 2), landmarkMs: 0 });
      });
    });

    it('returns the members of zsetTop without scores', async () => {
      const operations = Array.from({ length: 30 }, (_, index) => ({
        op: 'zsetAdd' as const,
        key: 'members-only',
        member: `m${index}`,
        score: (index * 7) % 11,
        mode: 'set' as const,
        maxMembers: 100,
      }));
      await store.apply([{ operations }]);
      const [top, members, limited, missing] = await store.read([
        { kind: 'zsetTop', key: 'members-only', limit: 100 },
        { kind: 'zsetMembers', key: 'members-only', limit: 100 },
        { kind: 'zsetMembers', key: 'members-only', limit: 5 },
        { kind: 'zsetMembers', key: 'nothing', limit: 5 },
      ]);
      const order = top?.kind === 'zsetTop' ? top.value.map((entry) => entry.member) : [];
      expect(order).toHaveLength(30);
      expect(members).toEqual({ kind: 'zsetMembers', value: order });
      expect(limited).toEqual({ kind: 'zsetMembers', value: order.slice(0, 5) });
      expect(missing).toEqual({ kind: 'zsetMembers', value: [] });
    });

    it('keeps zsetMembers current while members are added and raised', async () => {
      let previous: { ids: readonly string[]; copy: string[] } | undefined;
      await forEachRaiseStep(store, 'members-raised', 4, async (order, step) => {
        const [members] = await store.read([{ kind: 'zsetMembers', key: 'members-raised', limit: 10 }]);
        expect(members, step).toEqual({ kind: 'zsetMembers', value: order.map(([member]) => member) });
        // A write after a read leaves the array that the read returned as it was.
        if (previous !== undefined) {
          expect(previous.ids, `earlier read, ${step}`).toEqual(previous.copy);
        }
        const ids = members?.kind === 'zsetMembers' ? members.value : [];
        previous = { ids, copy: [...ids] };
      });
    });

    it('keeps reads of a set trimmed to the read limit current', async () => {
      // The read limit equals the bound, so the set is trimmed after almost every step while its
      // top members are cached in full.
      let previous: { ids: readonly string[]; copy: string[] } | undefined;
      await forEachRaiseStep(store, 'members-bound', 3, async (order, step) => {
        const [members, top] = await store.read([
          { kind: 'zsetMembers', key: 'members-bound', limit: 3 },
          { kind: 'zsetTop', key: 'members-bound', limit: 3 },
        ]);
        expect(members, step).toEqual({ kind: 'zsetMembers', value: order.map(([member]) => member) });
        expect(top, step).toEqual({ kind: 'zsetTop', value: order.map(([member, score]) => ({ member, score })), landmarkMs: 0 });
        if (previous !== undefined) {
          expect(previous.ids, `earlier read, ${step}`).toEqual(previous.copy);
        }
        const ids = members?.kind === 'zsetMembers' ? members.value : [];
        previous = { ids, copy: [...ids] };
      });
    });

    it('honours zsetAdd modes max and nx', async () => {
      const add = (score: number, mode: 'max' | 'nx') => ({ op: 'zsetAdd' as const, key: `modes-${mode}`, member: 'x', score, mode, maxMembers: 10 });
      await store.apply([{ operations: [add(5, 'max'), add(3, 'max'), add(7, 'max'), add(5, 'nx'), add(9, 'nx')] }]);
      const [max, nx] = await store.read([
        { kind: 'zsetTop', key: 'modes-max', limit: 1 },
        { kind: 'zsetTop', key: 'modes-nx', limit: 1 },
      ]);
      expect(max).toMatchObject({ value: [{ member: 'x', score: 7 }] });
      expect(nx).toMatchObject({ value: [{ member: 'x', score: 5 }] });
    });

    it('keeps the larger value with hashMax', async () => {
      const set = (value: number) => ({ op: 'hashMax' as const, key: 'max', field: 'v', value });
      await store.apply([{ operations: [set(10), set(4), set(12), set(11)] }]);
      const [result] = await store.read([{ kind: 'hash', key: 'max' }]);
      expect(result).toEqual({ kind: 'hash', value: { v: '12' } });
    });

    it('returns strings and missing keys in order', async () => {
      await store.apply([{ operations: [{ op: 'stringSet', key: 'str:1', value: 'one' }] }]);
      const [result] = await store.read([{ kind: 'strings', keys: ['str:1', 'str:missing'] }]);
      expect(result).toEqual({ kind: 'strings', value: ['one', null] });
    });

    it('returns empty values for missing keys', async () => {
      const results = await store.read([
        { kind: 'hash', key: 'nothing' },
        { kind: 'hashes', keys: ['nothing', 'counter'] },
        { kind: 'list', key: 'nothing', limit: 5 },
        { kind: 'zsetTop', key: 'nothing', limit: 5 },
        { kind: 'strings', keys: [] },
      ]);
      expect(results).toEqual([
        { kind: 'hash', value: {} },
        { kind: 'hashes', value: [{}, { n: '1' }] },
        { kind: 'list', value: [] },
        { kind: 'zsetTop', value: [], landmarkMs: 0 },
        { kind: 'strings', value: [] },
      ]);
    });

    it('expires keys after their TTL', async () => {
      await store.apply([
        {
          operations: [
            { op: 'hashSet', key: 'short-lived', field: 'f', value: 'v' },
            { op: 'expire', key: 'short-lived', ttlMs: 50 },
          ],
        },
      ]);
      await expect.poll(async () => (await store.read([{ kind: 'hash', key: 'short-lived' }]))[0], { timeout: 2_000 }).toEqual({
        kind: 'hash',
        value: {},
      });
    });

    it('matches the direct decayed sum in any order of events', async () => {
      const field = decayedField('positive', HOUR_MS);
      const base = Date.parse('2026-01-01T00:00:00Z');
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ weight: fc.double({ min: 0.1, max: 10, noNaN: true }), tMs: fc.integer({ min: 0, max: 400 * HOUR_MS }) }), {
            minLength: 1,
            maxLength: 30,
          }),
          async (events) => {
            const key = `t:{decay-${run++}}:hash`;
            const operations = events.map((event) => ({ op: 'hashDecayAdd' as const, key, field, weight: event.weight, tMs: base + event.tMs }));
            await store.apply(operations.map((operation) => ({ operations: [operation] })));
            const [result] = await store.read([{ kind: 'hash', key }]);
            const fields = result?.kind === 'hash' ? result.value : {};
            const nowMs = base + 400 * HOUR_MS;
            const stored = readDecayed(Number(fields[field]), Number(fields[LANDMARK_FIELD]), nowMs, HOUR_MS);
            const expected = directDecayedSum(events.map((event) => ({ weight: event.weight, tMs: base + event.tMs })), nowMs, HOUR_MS);
            expect(Math.abs(stored - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected) + 1e-300);
          },
        ),
        { numRuns: 50 },
      );
    });

    it('renews a hash landmark in the middle of a batch', async () => {
      const base = Date.parse('2026-01-01T00:00:00Z');
      const key = `t:{renew-${Date.now()}}:hash`;
      const hour = decayedField('hour', HOUR_MS);
      const day = decayedField('day', 24 * HOUR_MS);
      const add = (field: string, weight: number, tMs: number) => ({ op: 'hashDecayAdd' as const, key, field, weight, tMs });
      await store.apply([{ operations: [add(hour, 1, base), add(day, 1, base)] }]);
      // The merged batch adds the day field first, against the old landmark. The hour field's
      // events end 300 hours later, which renews the landmark and must rescale the day value
      // just added as well.
      const later = base + 300 * HOUR_MS;
      await store.apply([{ operations: [add(day, 4, base + 2 * HOUR_MS), add(hour, 2, base + HOUR_MS), add(hour, 8, later)] }]);
      const [result] = await store.read([{ kind: 'hash', key }]);
      const fields = result?.kind === 'hash' ? result.value : {};
      expect(Number(fields[LANDMARK_FIELD])).toBe(later);
      const hourValue = readDecayed(Number(fields[hour]), later, later, HOUR_MS);
      const dayValue = readDecayed(Number(fields[day]), later, later, 24 * HOUR_MS);
      const expectedHour = directDecayedSum([{ weight: 1, tMs: base }, { weight: 2, tMs: base + HOUR_MS }, { weight: 8, tMs: later }], later, HOUR_MS);
      const expectedDay = directDecayedSum([{ weight: 1, tMs: base }, { weight: 4, tMs: base + 2 * HOUR_MS }], later, 24 * HOUR_MS);
      expect(Math.abs(hourValue / expectedHour - 1)).toBeLessThan(1e-12);
      expect(Math.abs(dayValue / expectedDay - 1)).toBeLessThan(1e-12);
    });

    it('renews a packed record landmark mid-batch', async () => {
      const base = Date.parse('2026-01-01T00:00:00Z');
      const key = `t:{packed-renew-${Date.now()}}:packed`;
      const hour = decayedField('hour', HOUR_MS);
      const day = decayedField('day', 24 * HOUR_MS);
      const unused = decayedField('unused', HOUR_MS);
      const fields = [hour, day, unused];
      const add = (field: string, weight: number, tMs: number) => ({ op: 'packedDecayAdd' as const, key, fields, field, weight, tMs });
      await store.apply([{ operations: [add(hour, 1, base), add(day, 1, base)] }]);
      // As with a hash, the day field is added first against the old landmark, and the hour
      // field's last event, 300 hours later, renews the landmark and rescales the day value too.
      const later = base + 300 * HOUR_MS;
      await store.apply([{ operations: [add(day, 4, base + 2 * HOUR_MS), add(hour, 2, base + HOUR_MS), add(hour, 8, later)] }]);
      const [result] = await store.read([{ kind: 'snapshots', keys: [key, `${key}:missing`] }]);
      const values = result?.kind === 'snapshots' ? result.value : [];
      const record = values[0];
      expect(record?.length).toBe(4);
      expect(values[1]).toBeNull();
      expect(record?.[0]).toBe(later);
      const hourValue = readDecayed(record?.[1] ?? Number.NaN, later, later, HOUR_MS);
      const dayValue = readDecayed(record?.[2] ?? Number.NaN, later, later, 24 * HOUR_MS);
      const expectedHour = directDecayedSum([{ weight: 1, tMs: base }, { weight: 2, tMs: base + HOUR_MS }, { weight: 8, tMs: later }], later, HOUR_MS);
      const expectedDay = directDecayedSum([{ weight: 1, tMs: base }, { weight: 4, tMs: base + 2 * HOUR_MS }], later, 24 * HOUR_MS);
      expect(Math.abs(hourValue / expectedHour - 1)).toBeLessThan(1e-12);
      expect(Math.abs(dayValue / expectedDay - 1)).toBeLessThan(1e-12);
      expect(record?.[3]).toBe(0);
    });

    it('applies a packed record write once', async () => {
      const key = `t:{packed-once-${Date.now()}}:packed`;
      const field = decayedField('count', HOUR_MS);
      const tMs = Date.parse('2026-01-01T00:00:00Z');
      const write: PlannedWrite = {
        dedupKey: `dedup:packed-${Date.now()}`,
        dedupTtlMs: 60_000,
        operations: [{ op: 'packedDecayAdd', key, fields: [field], field, weight: 3, tMs }],
      };
      expect(await store.apply([write])).toEqual([true]);
      expect(await store.apply([write, { operations: [] }])).toEqual([false, true]);
      const [result] = await store.read([{ kind: 'snapshots', keys: [key] }]);
      const record = result?.kind === 'snapshots' ? result.value[0] : null;
      expect(record?.[0]).toBe(tMs);
      expect(record?.[1]).toBe(3);
    });

    it('renews the landmark of a decayed sorted set without changing its order', async () => {
      const base = Date.parse('2026-01-01T00:00:00Z');
      const add = (member: string, tMs: number) => ({
        op: 'zsetDecayAdd' as const,
        key: '{decayed-pool}',
        member,
        weight: 1,
        tMs,
        halfLifeMs: HOUR_MS,
        maxMembers: 100,
      });
      // 300 half-lives later, past the renewal exponent of 256.
      const later = base + 300 * HOUR_MS;
      await store.apply([{ operations: [add('old', base), add('old', base), add('new', later)] }]);
      const [result] = await store.read([{ kind: 'zsetTop', key: '{decayed-pool}', limit: 10 }]);
      expect(result?.kind === 'zsetTop' && result.landmarkMs).toBe(later);
      const members = result?.kind === 'zsetTop' ? result.value : [];
      expect(members.map((entry) => entry.member)).toEqual(['new', 'old']);
      expect(members[0]?.score).toBeCloseTo(1, 12);
      const oldScore = readDecayed(members[1]?.score ?? 0, later, later, HOUR_MS);
      expect(Math.abs(oldScore / (2 * 2 ** -300) - 1)).toBeLessThan(1e-12);
    });

    it('rounds additions to a sorted set with an integer scale', async () => {
      const key = `{integer-pool-${Date.now()}}`;
      const base = Date.parse('2026-01-01T00:00:00Z');
      const add = (member: string, weight: number, tMs: number) => ({ op: 'zsetDecayAdd' as const, key, member, weight, tMs, halfLifeMs: HOUR_MS, maxMembers: 100, integerScale: 2 ** 20 });
      await store.apply([{ operations: [add('a', 1, base), add('b', 1, base + HOUR_MS / 2)] }]);
      await store.apply([{ operations: [add('a', 3, base + HOUR_MS)] }]);

      const [result] = await store.read([{ kind: 'zsetTop', key, limit: 10 }]);

      expect(result?.kind).toBe('zsetTop');
      expect(result?.kind === 'zsetTop' ? result.landmarkMs : undefined).toBe(base);
      const scores = new Map(result?.kind === 'zsetTop' ? result.value.map((entry) => [entry.member, entry.score]) : []);
      // b: 2^0.5 · 2^20 = 1,482,910.4 rounds down; a: 2^20 + 3 · 2 · 2^20.
      expect(scores.get('b')).toBe(1_482_910);
      expect(scores.get('a')).toBe(7 * 2 ** 20);
    });

    it('keeps a co-visitation link as whole units of an engagement', async () => {
      const run = `covisit-${Date.now()}`;
      const base = Date.parse('2026-01-01T00:00:00Z');
      const like = (eventId: string, itemId: string, sessionId: string, ts: number): Interaction => ({ eventId: `${run}-${eventId}`, type: 'like', ts, sessionId: `${run}-${sessionId}`, itemId: `${run}-${itemId}` });
      // Two sessions engage with b after a, 90 s and 13 min later. The second addition,
      // 2^20 · 2^((t − landmark) / 7 days), has a fraction that is rounded away.
      await applyInteractions(store, [like('e1', 'a', 's1', base), like('e2', 'b', 's1', base + 90_000)]);
      await applyInteractions(store, [like('e3', 'a', 's2', base + 600_000), like('e4', 'b', 's2', base + 1_380_000)]);
      const nowMs = base + 3_600_000;

      const [list] = await store.read([{ kind: 'zsetTop', key: keys.itemCovisit(`${run}-a`), limit: 10 }]);
      const { session } = await readSessionSnapshot(store, `${run}-s2`, undefined, nowMs);
      const [snapshot] = await readItemSnapshots(store, [`${run}-b`], nowMs, session);

      const score = list?.kind === 'zsetTop' ? list.value[0]?.score : undefined;
      expect(Number.isInteger(score)).toBe(true);
      const expected = directDecayedSum([{ weight: 1, tMs: base + 90_000 }, { weight: 1, tMs: base + 1_380_000 }], nowMs, 7 * 24 * HOUR_MS);
      // Each of the two additions is rounded to a whole unit.
      expect(Math.abs((snapshot?.covisitScore ?? 0) - expected)).toBeLessThanOrEqual(1 / COVISIT_SCORE_SCALE);
    });

    it('rounds the rescaled scores when an integer-scaled set renews', async () => {
      const key = `{integer-renewal-${Date.now()}}`;
      const base = Date.parse('2026-01-01T00:00:00Z');
      const add = (member: string, weight: number, tMs: number) => ({ op: 'zsetDecayAdd' as const, key, member, weight, tMs, halfLifeMs: HOUR_MS, maxMembers: 100, integerScale: 2 ** 20 });
      await store.apply([{ operations: [add('anchor', 1, base), add('old', 3, base + HOUR_MS / 2)] }]);
      // 17 half-lives later, past INTEGER_RENEW_EXPONENT (16) and far below RENEW_EXPONENT (256).
      const later = base + 17 * HOUR_MS;
      await store.apply([{ operations: [add('new', 1, later)] }]);

      const [result] = await store.read([{ kind: 'zsetTop', key, limit: 10 }]);

      expect(result?.kind).toBe('zsetTop');
      expect(result?.kind === 'zsetTop' ? result.landmarkMs : undefined).toBe(later);
      // old was round(3 · 2^0.5 · 2^20) = 4,448,731, and 4,448,731 · 2^-17 = 33.94 rounds to 34;
      // anchor: 2^20 · 2^-17 = 8; new: 2^20 at the new landmark.
      expect(result?.kind === 'zsetTop' ? result.value : []).toEqual([
        { member: 'new', score: 2 ** 20 },
        { member: 'old', score: 34 },
        { member: 'anchor', score: 8 },
      ]);
    });
  });
}
