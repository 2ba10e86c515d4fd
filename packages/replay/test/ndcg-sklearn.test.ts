import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRandom, ndcgAtK, rankByScore } from '../src/index';

/** Interpreters tried in order: Debian's first, because `python3-sklearn` installs into it. */
const PYTHONS = ['/usr/bin/python3', 'python3'];

const SKLEARN_SCRIPT = `
import json, sys
from sklearn.metrics import ndcg_score
cases = json.load(sys.stdin)
print(json.dumps([ndcg_score([case["relevance"]], [case["scores"]], k=case["k"]) for case in cases]))
`;

/** Returns a Python interpreter that imports scikit-learn, or fails naming the package to install. */
function findSklearnPython(): string {
  for (const python of PYTHONS) {
    if (python.startsWith('/') && !existsSync(python)) {
      continue;
    }
    const probe = spawnSync(python, ['-c', 'import sklearn'], { encoding: 'utf8' });
    if (probe.status === 0) {
      return python;
    }
  }
  throw new Error('no python3 with scikit-learn found; install the Debian package python3-sklearn (apt-get install -y python3-sklearn)');
}

interface RankingCase {
  scores: number[];
  relevance: number[];
  targetIndex: number;
  k: number;
}

/** Random rankings of 2 to 60 items with distinct scores, one relevant item or none, and K from 1 to 20. */
function buildCases(count: number): RankingCase[] {
  const random = createRandom(2024);
  const ks = [1, 3, 5, 10, 20];
  return Array.from({ length: count }, (_, index) => {
    const size = 2 + Math.floor(random() * 59);
    const scores = Array.from({ length: size }, () => random());
    const targetIndex = index % 7 === 0 ? -1 : Math.floor(random() * size);
    const relevance = scores.map((_, position) => (position === targetIndex ? 1 : 0));
    return { scores, relevance, targetIndex, k: ks[index % ks.length] as number };
  });
}

describe('ndcgAtK', () => {
  it('agrees with scikit-learn ndcg_score to 1e-9', () => {
    const python = findSklearnPython();
    const cases = buildCases(200);
    const run = spawnSync(python, ['-c', SKLEARN_SCRIPT], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(run.stderr).not.toMatch(/Error/);
    const expected = JSON.parse(run.stdout) as number[];
    cases.forEach((rankingCase, index) => {
      const itemIds = rankingCase.scores.map((_, position) => `item-${String(position).padStart(3, '0')}`);
      const { rank } = rankByScore(rankingCase.scores, itemIds, rankingCase.targetIndex, rankingCase.k);
      expect(Math.abs(ndcgAtK(rank, rankingCase.k) - (expected[index] as number)), `case ${index}`).toBeLessThan(1e-9);
    });
  });
});
