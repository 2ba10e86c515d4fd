import { describe, expect, it } from 'vitest';
import { decodeRankingColumns, encodeRankingColumns } from '../src/ranking-columns';
import { parseServedFeed, planServedFeed, type RankingEntry } from '../src/served-feeds';

const RANKING: RankingEntry[] = [
  { itemId: 'a', score: 0.5019537210464478, sources: ['request'], rules: [] },
  { itemId: 'b', score: 1 / 3, sources: ['trending', 'covisit'], rules: [{ rule: 'exploration', from: 166, to: 1 }] },
  { itemId: 'c', score: 0, sources: ['request'], rules: [] },
  { itemId: 'd', score: 1e-300, sources: [], rules: [{ rule: 'diversity', from: 2, to: 5 }, { rule: 'live-boost', from: 5, to: 3 }] },
];

describe('ranking columns', () => {
  it('round-trips entries with exact scores', () => {
    expect(decodeRankingColumns(encodeRankingColumns(RANKING))).toEqual(RANKING);
  });

  it('round-trips a ranking whose entries share one source list', () => {
    const shared = RANKING.map((entry) => ({ ...entry, sources: ['request' as const] }));
    const text = encodeRankingColumns(shared);
    expect(text).not.toContain('sourceIndexes');
    expect(decodeRankingColumns(text)).toEqual(shared);
  });

  it('writes the text JSON.stringify writes', () => {
    const quoted = RANKING.map((entry, index) => ({ ...entry, itemId: `${entry.itemId}"\\é${index}` }));
    for (const ranking of [RANKING, quoted, RANKING.map((entry) => ({ ...entry, sources: ['request' as const] })), []]) {
      const text = encodeRankingColumns(ranking);
      const columns = JSON.parse(text) as Record<string, unknown>;
      const reference = {
        ids: ranking.map((entry) => entry.itemId),
        scores: columns.scores,
        sourceLists: columns.sourceLists,
        rules: ranking.flatMap((entry, index) => (entry.rules.length > 0 ? [[index, entry.rules]] : [])),
        ...(columns.sourceIndexes === undefined ? {} : { sourceIndexes: columns.sourceIndexes }),
      };
      expect(text).toBe(JSON.stringify(reference));
    }
  });

  it('round-trips an empty ranking', () => {
    expect(decodeRankingColumns(encodeRankingColumns([]))).toEqual([]);
  });

  it('rejects text that is not a ranking in columns', () => {
    expect(decodeRankingColumns('not json')).toBeUndefined();
    expect(decodeRankingColumns('[["a",0.5,["request"],[]]]')).toBeUndefined();
    expect(decodeRankingColumns('{"ids":["a"],"scores":"","sourceLists":[],"rules":[]}')).toBeUndefined();
  });
});

describe('parseServedFeed', () => {
  const first = { model: 'm/1', variant: 'default', createdAtMs: 1_000, ranking: RANKING };

  function storedFields(): Record<string, string> {
    const write = planServedFeed({ sessionId: 's', feedId: 'f', offset: 0, servedItemIds: ['a', 'b'], first, countAsServed: false, ttlMs: 60_000, servedHistoryLength: 0 });
    const fields: Record<string, string> = {};
    for (const operation of write.operations) {
      if (operation.op === 'hashSet') {
        fields[operation.field] = operation.value;
      }
    }
    return fields;
  }

  it('reads the record that planServedFeed writes', () => {
    const record = parseServedFeed('f', { kind: 'hash', value: storedFields() });
    expect(record?.ranking).toEqual(RANKING);
    expect(record?.pages.get(0)).toEqual(['a', 'b']);
    expect(record?.variant).toBe('default');
  });

  it('reads a record with the ranking as one array per entry', () => {
    const { rankingColumns: _, ...fields } = storedFields();
    const legacy = { ...fields, ranking: JSON.stringify(RANKING.map((entry) => [entry.itemId, entry.score, entry.sources, entry.rules])) };
    expect(parseServedFeed('f', { kind: 'hash', value: legacy })?.ranking).toEqual(RANKING);
  });

  it('returns undefined for a record without a ranking', () => {
    const { rankingColumns: _, ...fields } = storedFields();
    expect(parseServedFeed('f', { kind: 'hash', value: fields })).toBeUndefined();
  });
});
