import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FEATURE_REGISTRY, FEATURE_SCHEMA_VERSION } from '@nexttap/features';
import { exportMlpToOnnx, type ModelManifest } from '@nexttap/model';

/**
 * Writes an MLP over every registry feature with `hiddenUnits` ReLU units into
 * `<root>/<name>/<version>`. Its weights (hiddenUnits × 12 + hiddenUnits floats) make a leaked
 * onnxruntime session visible in the process's resident memory.
 */
export async function writeMlpModel(root: string, name: string, version: string, hiddenUnits: number, scale = 1): Promise<void> {
  const features = FEATURE_REGISTRY.map((feature) => feature.name);
  const first = new Float32Array(features.length * hiddenUnits).map((_, index) => (((index * 7919) % 101) / 101 - 0.5) * 0.2);
  const second = new Float32Array(hiddenUnits).map((_, index) => (((index * 104_729) % 97) / 97) * 0.1 * scale);
  const onnx = exportMlpToOnnx({
    layers: [
      { weights: first, bias: new Float32Array(hiddenUnits).fill(0.01), inputSize: features.length, outputSize: hiddenUnits, activation: 'relu' },
      { weights: second, bias: new Float32Array([0]), inputSize: hiddenUnits, outputSize: 1, activation: 'linear' },
    ],
    inputName: 'features',
    outputName: 'score',
    producerName: 'nexttap-test',
  });
  const manifest: ModelManifest = {
    name,
    version,
    featureSchemaVersion: FEATURE_SCHEMA_VERSION,
    features,
    input: { name: 'features' },
    output: { name: 'score' },
    createdAt: new Date(0).toISOString(),
    training: { dataset: 'none', description: 'fixed weights for tests' },
    metrics: {},
  };
  const directory = join(root, name, version);
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, 'model.onnx'), onnx);
  await writeFile(join(directory, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}
