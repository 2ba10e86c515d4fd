import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistry } from '@nexttap/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NOTEBOOK = join(ROOT, 'notebooks', 'train_sklearn.ipynb');
const hasJupyter = spawnSync('jupyter', ['nbconvert', '--version'], { encoding: 'utf8' }).status === 0;

// NOTE: skipped where `jupyter nbconvert` is missing. It goes away with the Debian packages that
// .ci/run installs: jupyter-nbconvert python3-sklearn python3-onnx python3-pandas python3-matplotlib python3-ipykernel.
describe.skipIf(!hasJupyter)('notebooks/train_sklearn.ipynb', () => {
  let workspace: string;

  beforeAll(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'nexttap-notebook-'));
  });

  afterAll(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  it('runs and writes a model the ranker accepts', { timeout: 300_000 }, async () => {
    const modelsDir = join(workspace, 'models');
    const checkFile = join(workspace, 'check.json');
    const run = spawnSync(
      'jupyter',
      ['nbconvert', '--to', 'notebook', '--execute', NOTEBOOK, '--output-dir', workspace, '--ExecutePreprocessor.timeout=600'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          NEXTTAP_ROWS_CSV: join(workspace, 'rows.csv'),
          NEXTTAP_MAX_ANCHORS: '3000',
          NEXTTAP_MODEL_DIR: join(modelsDir, 'movielens-logreg', '1'),
          NEXTTAP_CHECK_FILE: checkFile,
        },
      },
    );
    expect(run.status, run.stderr).toBe(0);

    const model = await new ModelRegistry(modelsDir).load({ name: 'movielens-logreg', version: '1' });
    try {
      expect(model.manifest.metrics.validation_auc).toBeGreaterThan(0.5);
      // onnxruntime's scores of the ONNX graph match scikit-learn's on the same rows.
      const check = JSON.parse(await readFile(checkFile, 'utf8')) as { features: number[][]; scores: number[] };
      const data = Float32Array.from(check.features.flat());
      const scores = await model.score({ data, rows: check.features.length, columns: model.features.length, featureNames: model.manifest.features });
      check.scores.forEach((expected, index) => {
        expect(scores[index]).toBeCloseTo(expected, 5);
      });
    } finally {
      await model.release();
    }
  });
});
