import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO_ROOT = new URL('../../..', import.meta.url).pathname;
const MODEL_DIR = join(REPO_ROOT, 'models/movielens-mlp/1');

/** Loads the bundled model and scores one batch in a new Node.js process, as the services do. */
const SCRIPT = `
import { loadRankingModel } from '@nexttap/model';
const model = await loadRankingModel(${JSON.stringify(MODEL_DIR)});
await model.score({ data: new Float32Array(model.features.length), rows: 1, columns: model.features.length, featureNames: [] });
await model.release();
`;

describe('onnxruntime telemetry', () => {
  it('writes nothing under the home folder', async () => {
    // A fresh home and cache folder, and no telemetry setting inherited from the test runner, so
    // that the library's own default applies.
    const home = await mkdtemp(join(tmpdir(), 'nexttap-home-'));
    try {
      const environment: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache') };
      delete environment.ORT_DISABLE_TELEMETRY;
      await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { cwd: REPO_ROOT, env: environment, timeout: 60_000 });
      expect(await readdir(home, { recursive: true })).toEqual([]);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 90_000);
});
