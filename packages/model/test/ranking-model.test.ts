import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportMlpToOnnx, loadRankingModel, ModelValidationError, writeLinearModel } from '../src/index';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nexttap-model-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('loadRankingModel', () => {
  it('scores rows with a valid model', async () => {
    await writeLinearModel(directory, { item_popularity_week: 2, session_category_affinity: 10 });
    const model = await loadRankingModel(directory);
    const scores = await model.score({ data: Float32Array.from([1, 0, 0.5, 0.1]), rows: 2, columns: 2, featureNames: [] });
    expect(Array.from(scores)).toEqual([2, expect.closeTo(2, 5)]);
    await model.release();
  });

  it('rejects a manifest naming an unknown feature', async () => {
    await writeLinearModel(directory, { item_popularity_week: 1, item_colour_match: 1 });
    const error = await loadRankingModel(directory).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelValidationError);
    expect((error as Error).message).toContain('item_colour_match');
    expect((error as Error).message).toContain('feature registry');
  });

  it('rejects a feature schema version mismatch', async () => {
    await writeLinearModel(directory, { item_popularity_week: 1 }, { featureSchemaVersion: 999 });
    await expect(loadRankingModel(directory)).rejects.toThrow(/featureSchemaVersion is 999/);
  });

  it('rejects a graph whose width differs from the manifest', async () => {
    const manifest = await writeLinearModel(directory, { item_popularity_week: 1, item_tap_rate: 1 });
    await writeFile(join(directory, 'manifest.json'), JSON.stringify({ ...manifest, features: ['item_popularity_week'] }));
    await expect(loadRankingModel(directory)).rejects.toThrow(/shape \[batch, 2\] but the manifest lists 1 features/);
  });

  it('rejects an unknown input name', async () => {
    await writeLinearModel(directory, { item_popularity_week: 1 }, { input: { name: 'x' } });
    await expect(loadRankingModel(directory)).rejects.toThrow(/input.name x is not a graph input; the graph has features/);
  });

  it('rejects a model that returns non-finite scores', async () => {
    await writeLinearModel(directory, { item_popularity_week: 1 });
    const onnx = exportMlpToOnnx({
      layers: [{ weights: Float32Array.from([3e38]), bias: new Float32Array([3e38]), inputSize: 1, outputSize: 1, activation: 'linear' }],
      inputName: 'features',
      outputName: 'score',
      producerName: 'nexttap-test',
    });
    await writeFile(join(directory, 'model.onnx'), onnx);
    await expect(loadRankingModel(directory)).rejects.toThrow(/smoke batch returned Infinity/);
  });

  it('rejects an invalid manifest with every problem', async () => {
    await writeLinearModel(directory, { item_popularity_week: 1 });
    await writeFile(join(directory, 'manifest.json'), JSON.stringify({ name: 'a b', features: [] }));
    const error = (await loadRankingModel(directory).catch((caught: unknown) => caught)) as Error;
    expect(error.message).toContain('name: name must be');
    expect(error.message).toContain('features: features must list at least one feature');
  });

  it('names a manifest that is a folder', async () => {
    await mkdir(join(directory, 'manifest.json'));
    const error = (await loadRankingModel(directory).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(ModelValidationError);
    expect(error.message).toBe(`model ${directory}: ${join(directory, 'manifest.json')} is a folder, not a file; replace it with the model's manifest.json`);
  });

  it('names a model.onnx that is a folder', async () => {
    await writeLinearModel(directory, { item_popularity_week: 1 });
    await rm(join(directory, 'model.onnx'));
    await mkdir(join(directory, 'model.onnx'));
    const error = (await loadRankingModel(directory).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(ModelValidationError);
    expect(error.message).toBe(`model ${directory}: ${join(directory, 'model.onnx')} is a folder, not a file; replace it with the model's model.onnx`);
  });

  it('rejects a missing model file', async () => {
    await expect(loadRankingModel(join(directory, 'absent'))).rejects.toThrow(/manifest.json could not be read/);
  });
});
