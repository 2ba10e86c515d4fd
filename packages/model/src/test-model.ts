import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FEATURE_SCHEMA_VERSION } from '@nexttap/features';
import type { ModelManifest } from './manifest';
import { exportMlpToOnnx } from './onnx-export';

/**
 * Writes a linear ranking model (score = Σ weight·feature) with its manifest into `directory`.
 * Tests and benchmarks use it where the exact scores must be known in advance.
 */
export async function writeLinearModel(
  directory: string,
  weights: Record<string, number>,
  manifestOverrides: Partial<ModelManifest> = {},
): Promise<ModelManifest> {
  const features = Object.keys(weights);
  const onnx = exportMlpToOnnx({
    layers: [
      {
        weights: Float32Array.from(features.map((name) => weights[name] ?? 0)),
        bias: new Float32Array([0]),
        inputSize: features.length,
        outputSize: 1,
        activation: 'linear',
      },
    ],
    inputName: 'features',
    outputName: 'score',
    producerName: 'nexttap-test',
  });
  const manifest: ModelManifest = {
    name: 'linear',
    version: '1',
    featureSchemaVersion: FEATURE_SCHEMA_VERSION,
    features,
    input: { name: 'features' },
    output: { name: 'score' },
    createdAt: new Date(0).toISOString(),
    training: { dataset: 'none', description: 'hand-set weights' },
    metrics: {},
    ...manifestOverrides,
  };
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, 'model.onnx'), onnx);
  await writeFile(join(directory, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
