import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { writeLinearModel } from '@nexttap/model';
import { createLogger, createMetricsRegistry } from '@nexttap/observability';
import { Ranker, rankerConfigSchema } from '@nexttap/ranker';
import { MemoryFeatureStore } from '@nexttap/store';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModelsCommand } from '../packages/cli/src/models-command';

const TOKEN = 'cli-test-token-4d2a9b7c';
const logger = createLogger({ level: 'silent', service: 'models-cli-test' });

let root: string;
let ranker: Ranker;
let app: FastifyInstance;
let url: string;

/** Runs `nexttap models …` in process and returns its exit code and output. */
async function nexttapModels(argv: string[], environment: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: '', stderr: '' };
  stdout.on('data', (chunk: Buffer) => (chunks.stdout += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (chunks.stderr += chunk.toString()));
  const code = await runModelsCommand(argv, { stdout, stderr, environment: { MODELS_DIR: root, ...environment } });
  return { code, ...chunks };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nexttap-cli-models-'));
  await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1 });
  await writeLinearModel(join(root, 'linear', '2'), { item_popularity_week: 2 }, { version: '2' });
  await writeLinearModel(join(root, 'broken', '1'), { item_colour_match: 1 }, { name: 'broken' });
  const config = rankerConfigSchema.parse({ modelDir: join(root, 'linear', '1'), modelsDir: root, adminToken: TOKEN });
  ranker = new Ranker({ config, store: new MemoryFeatureStore({ sweepIntervalMs: 0 }), logger, metrics: createMetricsRegistry() });
  app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
  await ranker.register(app);
  await ranker.start();
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await ranker.stop();
  await rm(root, { recursive: true, force: true });
});

describe('nexttap models', () => {
  it('validates a folder and a registry version', async () => {
    const byFolder = await nexttapModels(['validate', join(root, 'linear', '2')]);
    expect(byFolder.code).toBe(0);
    expect(JSON.parse(byFolder.stdout)).toMatchObject({ valid: true, model: 'linear@2' });
    const byReference = await nexttapModels(['validate', 'linear@1']);
    expect(byReference.code).toBe(0);
  });

  it('rejects an invalid model with the reason', async () => {
    const result = await nexttapModels(['validate', 'broken@1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('item_colour_match');
  });

  it('names a model folder that does not exist', async () => {
    const result = await nexttapModels(['validate', join(root, 'absent', 'model')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`model folder ${join(root, 'absent', 'model')} not found`);
  });

  it('reads a relative path as a folder', async () => {
    const result = await nexttapModels(['validate', 'absent/model']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('model folder absent/model not found');
    expect(result.stderr).not.toContain('absent@model');
  });

  it('points a missing version to models list', async () => {
    const result = await nexttapModels(['validate', 'linear@9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('list the models with nexttap models list');
  });

  it('lists the registry', async () => {
    const result = await nexttapModels(['list']);
    expect(result.stdout.trim().split('\n')).toEqual(['broken@1', 'linear@1', 'linear@2']);
  });

  it('rejects a missing models folder', async () => {
    const result = await nexttapModels(['list', '--models-dir', join(root, 'absent')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the models folder ${join(root, 'absent')} does not exist; pass --models-dir DIR or set MODELS_DIR`);
    expect(result.stdout).toBe('');
  });

  it('says when the folder has no model', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'nexttap-cli-empty-'));
    const result = await nexttapModels(['list', '--models-dir', empty]);
    await rm(empty, { recursive: true, force: true });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`no model in ${empty}`);
    expect(result.stdout).toBe('');
  });

  it('activates and rolls back on a running ranker', async () => {
    const activated = await nexttapModels(['activate', 'linear@2', '--url', url], { ADMIN_TOKEN: TOKEN });
    expect(activated.code, activated.stderr).toBe(0);
    expect(JSON.parse(activated.stdout)).toEqual({ active: 'linear@2', previous: 'linear@1' });
    expect(ranker.currentModel?.manifest.version).toBe('2');

    const rolledBack = await nexttapModels(['rollback', '--url', url], { ADMIN_TOKEN: TOKEN });
    expect(rolledBack.code).toBe(0);
    expect(ranker.currentModel?.manifest.version).toBe('1');
  });

  it('fails with a wrong token', async () => {
    const result = await nexttapModels(['activate', 'linear@2', '--url', url], { ADMIN_TOKEN: 'not-the-token-at-all' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('RANKER_ERR_UNAUTHORIZED');
  });

  it('asks for ADMIN_TOKEN when it is unset', async () => {
    const result = await nexttapModels(['activate', 'linear@2', '--url', url]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ADMIN_TOKEN is not set');
  });
});
