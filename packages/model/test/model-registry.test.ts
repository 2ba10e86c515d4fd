import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelNotFoundError, ModelReferenceError, ModelRegistry, ModelValidationError, parseModelReference, SharedModel, writeLinearModel, type RankingModel } from '../src/index';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'nexttap-registry-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('parseModelReference', () => {
  it('reads name@version and name/version', () => {
    expect(parseModelReference('movielens-mlp@1')).toEqual({ name: 'movielens-mlp', version: '1' });
    expect(parseModelReference('movielens-mlp/2.1')).toEqual({ name: 'movielens-mlp', version: '2.1' });
  });

  it.each(['movielens-mlp', '../etc@passwd', 'a@b@c', 'a@..', '@1', 'name@'])('rejects %s', (text) => {
    expect(() => parseModelReference(text)).toThrow(ModelReferenceError);
  });
});

describe('ModelRegistry', () => {
  it('lists the versions that have a manifest', async () => {
    await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1 });
    await writeLinearModel(join(root, 'linear', '10'), { item_popularity_week: 1 }, { version: '10' });
    await writeLinearModel(join(root, 'linear', '2'), { item_popularity_week: 1 }, { version: '2' });
    await mkdir(join(root, 'empty', '1'), { recursive: true });
    await writeFile(join(root, 'README.md'), 'not a model');
    const registry = new ModelRegistry(root);
    expect(await registry.list()).toEqual([
      { name: 'linear', version: '1' },
      { name: 'linear', version: '2' },
      { name: 'linear', version: '10' },
    ]);
  });

  it('loads a version and validates it', async () => {
    await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1 });
    const model = await new ModelRegistry(root).load({ name: 'linear', version: '1' });
    expect(model.manifest.name).toBe('linear');
    await model.release();
  });

  it('rejects a missing version', async () => {
    const error = await new ModelRegistry(root).load({ name: 'linear', version: '3' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as Error).message).toContain('linear@3');
  });

  it('names a manifest that is a folder', async () => {
    await mkdir(join(root, 'linear', '4', 'manifest.json'), { recursive: true });
    const error = await new ModelRegistry(root).load({ name: 'linear', version: '4' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelValidationError);
    const manifestPath = join(root, 'linear', '4', 'manifest.json');
    expect((error as Error).message).toBe(`model ${join(root, 'linear', '4')}: ${manifestPath} is a folder, not a file; replace it with the model's manifest.json`);
  });

  it('marks each listed version valid or invalid without loading it', async () => {
    await writeLinearModel(join(root, 'good', '1'), { item_popularity_week: 1 }, { name: 'good' });
    await writeLinearModel(join(root, 'renamed', '2'), { item_popularity_week: 1 }, { name: 'renamed' });
    await mkdir(join(root, 'bad-json', '1'), { recursive: true });
    await writeFile(join(root, 'bad-json', '1', 'manifest.json'), '{"name": "bad-json",');
    await writeLinearModel(join(root, 'no-onnx', '1'), { item_popularity_week: 1 }, { name: 'no-onnx' });
    await unlink(join(root, 'no-onnx', '1', 'model.onnx'));
    await writeLinearModel(join(root, 'unknown-feature', '1'), { item_colour_match: 1 }, { name: 'unknown-feature' });

    const listed = await new ModelRegistry(root).listChecked();
    const problems = Object.fromEntries(listed.map((entry) => [`${entry.name}@${entry.version}`, entry.problem]));
    expect(Object.keys(problems)).toEqual(['bad-json@1', 'good@1', 'no-onnx@1', 'renamed@2', 'unknown-feature@1']);
    expect(problems['good@1']).toBeUndefined();
    expect(problems['renamed@2']).toContain('manifest names renamed@1 but the folder is renamed@2');
    expect(problems['bad-json@1']).toContain('manifest.json is not valid JSON');
    expect(problems['no-onnx@1']).toContain('model.onnx could not be read');
    expect(problems['unknown-feature@1']).toContain('item_colour_match');
  });

  it('rejects a manifest naming another folder', async () => {
    await writeLinearModel(join(root, 'linear', '2'), { item_popularity_week: 1 });
    const error = await new ModelRegistry(root).load({ name: 'linear', version: '2' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelValidationError);
    expect((error as Error).message).toContain('manifest names linear@1 but the folder is linear@2');
  });
});

/** A model whose release is counted, for the reference counting tests. */
function countingModel(): { model: RankingModel; releases: () => number } {
  let releases = 0;
  const model = {
    manifest: { name: 'counted', version: '1' },
    features: [],
    score: async () => new Float32Array(),
    release: async () => {
      releases += 1;
    },
  } as unknown as RankingModel;
  return { model, releases: () => releases };
}

describe('SharedModel', () => {
  it('releases at retirement when no request holds it', async () => {
    const { model, releases } = countingModel();
    await new SharedModel(model).retire();
    expect(releases()).toBe(1);
  });

  it('waits for the last holder before releasing', async () => {
    const { model, releases } = countingModel();
    const shared = new SharedModel(model);
    shared.acquire();
    shared.acquire();
    let retired = false;
    const retirement = shared.retire().then(() => {
      retired = true;
    });
    shared.release();
    await Promise.resolve();
    expect(releases()).toBe(0);
    expect(retired).toBe(false);
    shared.release();
    await retirement;
    expect(releases()).toBe(1);
    expect(shared.activeRequests).toBe(0);
  });

  it('refuses new holders once retired', async () => {
    const { model } = countingModel();
    const shared = new SharedModel(model);
    await shared.retire();
    expect(() => shared.acquire()).toThrow(/retired/);
  });

  it('rejects a release without an acquire', () => {
    const { model } = countingModel();
    expect(() => new SharedModel(model).release()).toThrow(/more often than acquired/);
  });
});
