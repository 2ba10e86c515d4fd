import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLinearModel } from '@nexttap/model';
import { createLogger, createMetricsRegistry } from '@nexttap/observability';
import { MemoryFeatureStore } from '@nexttap/store';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ranker, rankerConfigSchema } from '../src/index';

const TOKEN = 'models-dir-test-token-8c2d';
const WARNING = 'MODELS_DIR is not a folder; the admin API finds no model version to list or activate';

let root: string;
let modelDir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nexttap-models-dir-'));
  modelDir = join(root, 'registry', 'linear', '1');
  await writeLinearModel(modelDir, { item_popularity_week: 1 });
  await writeFile(join(root, 'plain-file'), '');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Starts and stops a ranker with `settings`, and returns the log lines of its start. */
async function startUpLines(settings: { modelsDir: string; adminToken: string }): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
  const logger = createLogger({ level: 'info', service: 'models-dir-test' }, destination);
  const config = rankerConfigSchema.parse({ modelDir, ...settings });
  const ranker = new Ranker({ config, store: new MemoryFeatureStore(), logger, metrics: createMetricsRegistry() });
  await ranker.start();
  await ranker.stop();
  return lines;
}

describe('ranker start with MODELS_DIR', () => {
  it('warns when the admin API has no registry folder', async () => {
    const missing = join(root, 'absent');
    const lines = await startUpLines({ modelsDir: missing, adminToken: TOKEN });

    const warnings = lines.filter((line) => line.msg === WARNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, modelsDir: missing, path: missing, err: { code: 'ENOENT' } });
    expect(lines.some((line) => line.msg === 'model loaded')).toBe(true);
  });

  it('warns when MODELS_DIR is a file', async () => {
    const lines = await startUpLines({ modelsDir: join(root, 'plain-file'), adminToken: TOKEN });

    const warnings = lines.filter((line) => line.msg === WARNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toHaveProperty('err');
  });

  it('stays quiet when the folder exists', async () => {
    const lines = await startUpLines({ modelsDir: join(root, 'registry'), adminToken: TOKEN });

    expect(lines.filter((line) => line.msg === WARNING)).toEqual([]);
  });

  it('stays quiet without the admin API', async () => {
    const lines = await startUpLines({ modelsDir: join(root, 'absent'), adminToken: '' });

    expect(lines.filter((line) => line.msg === WARNING)).toEqual([]);
  });
});

describe('rollback to a MODEL_DIR outside MODELS_DIR', () => {
  it('loads the start model from its own folder again', async () => {
    const startDir = join(root, 'outside', 'start-model');
    await writeLinearModel(startDir, { item_popularity_week: 3 }, { name: 'start', version: '7' });
    const logger = createLogger({ level: 'silent', service: 'models-dir-test' });
    const config = rankerConfigSchema.parse({ modelDir: startDir, modelsDir: join(root, 'registry'), adminToken: TOKEN });
    const ranker = new Ranker({ config, store: new MemoryFeatureStore(), logger, metrics: createMetricsRegistry() });
    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
    await ranker.register(app);
    await ranker.start();
    const admin = (url: string, payload?: object) =>
      app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TOKEN}` }, ...(payload === undefined ? {} : { payload }) });
    try {
      expect((await admin('/v1/admin/models/activate', { model: 'linear@1' })).json()).toEqual({ active: 'linear@1', previous: 'start@7', changed: true });

      const rolledBack = await admin('/v1/admin/models/rollback');

      expect(rolledBack.statusCode).toBe(200);
      expect(rolledBack.json()).toEqual({ active: 'start@7', previous: 'linear@1', changed: true });
    } finally {
      await app.close();
      await ranker.stop();
    }
  });
});
