import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';

import { exportMlpToOnnx, type DenseActivation, type DenseLayerSpec, type MlpSpec } from '../src/onnx-export';
import { extractDenseLayers } from '../src/tfjs-dense';

const TOLERANCE = 1e-5;

/** Mulberry32: a small seeded generator, so weights and inputs are the same on every run. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomFloats(random: () => number, length: number, scale: number): Float32Array {
  return Float32Array.from({ length }, () => (random() * 2 - 1) * scale);
}

interface LayerPlan {
  units: number;
  activation: DenseActivation;
  name: string;
}

/** Builds a Sequential MLP with seeded kernels uniform in ±1/sqrt(fan-in), which keeps sigmoid outputs out of saturation. */
function buildSeededMlp(seed: number, inputSize: number, plan: LayerPlan[]): tf.Sequential {
  const random = createRandom(seed);
  const model = tf.sequential({ name: 'seeded_mlp' });
  let fanIn = inputSize;
  for (const [index, layer] of plan.entries()) {
    const dense = tf.layers.dense({
      units: layer.units,
      activation: layer.activation,
      name: layer.name,
      ...(index === 0 ? { inputShape: [inputSize] } : {}),
    });
    model.add(dense);
    const scale = 1 / Math.sqrt(fanIn);
    dense.setWeights([
      tf.tensor2d(randomFloats(random, fanIn * layer.units, scale), [fanIn, layer.units]),
      tf.tensor1d(randomFloats(random, layer.units, 0.5)),
    ]);
    fanIn = layer.units;
  }
  return model;
}

function predictWithTfjs(model: tf.LayersModel, rows: Float32Array, width: number): Float32Array {
  return tf.tidy(() => {
    const output = model.predict(tf.tensor2d(rows, [rows.length / width, width])) as tf.Tensor;
    return Float32Array.from(output.dataSync());
  });
}

async function runOnnx(
  bytes: Uint8Array,
  spec: Pick<MlpSpec, 'inputName' | 'outputName'>,
  rows: Float32Array,
  width: number,
): Promise<{ session: ort.InferenceSession; output: ort.Tensor }> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds = { [spec.inputName]: new ort.Tensor('float32', rows, [rows.length / width, width]) };
  const results = await session.run(feeds);
  const output = results[spec.outputName];
  if (output === undefined) {
    throw new Error(`ONNX Runtime returned no output named "${spec.outputName}", only ${Object.keys(results).join(', ')}`);
  }
  return { session, output };
}

function maxAbsoluteDifference(expected: Float32Array, actual: Float32Array): number {
  let max = 0;
  expected.forEach((value, index) => {
    max = Math.max(max, Math.abs(value - (actual[index] ?? Number.NaN)));
  });
  return max;
}

/**
 * Reads ModelProto header fields straight from the protobuf wire format, with
 * field numbers from onnx.proto3, so the check does not reuse the exporter's schema.
 */
function readModelHeader(bytes: Uint8Array): {
  irVersion: number;
  producerName: string;
  docString: string;
  opsets: Array<{ domain: string; version: number }>;
  metadata: Map<string, string>;
} {
  const header = {
    irVersion: 0,
    producerName: '',
    docString: '',
    opsets: [] as Array<{ domain: string; version: number }>,
    metadata: new Map<string, string>(),
  };
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1) {
      header.irVersion = Number(reader.int64());
    } else if (field === 2) {
      header.producerName = reader.string();
    } else if (field === 6) {
      header.docString = reader.string();
    } else if (field === 8) {
      const pair = readStringAndNumber(reader.bytes());
      header.opsets.push({ domain: pair.text, version: pair.number });
    } else if (field === 14) {
      const entry = readStringPair(reader.bytes());
      header.metadata.set(entry.key, entry.value);
    } else {
      reader.skipType(tag & 7);
    }
  }
  return header;
}

function readStringPair(bytes: Uint8Array): { key: string; value: string } {
  const reader = protobuf.Reader.create(bytes);
  const entry = { key: '', value: '' };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) entry.key = reader.string();
    else if (tag >>> 3 === 2) entry.value = reader.string();
    else reader.skipType(tag & 7);
  }
  return entry;
}

function readStringAndNumber(bytes: Uint8Array): { text: string; number: number } {
  const reader = protobuf.Reader.create(bytes);
  const pair = { text: '', number: 0 };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) pair.text = reader.string();
    else if (tag >>> 3 === 2) pair.number = Number(reader.int64());
    else reader.skipType(tag & 7);
  }
  return pair;
}

/** Float64 forward pass of a spec, used as an independent reference for ONNX Runtime. */
function forwardReference(layers: readonly DenseLayerSpec[], rows: Float32Array, batch: number): Float64Array {
  let activations = Float64Array.from(rows);
  for (const layer of layers) {
    const next = new Float64Array(batch * layer.outputSize);
    for (let row = 0; row < batch; row++) {
      for (let column = 0; column < layer.outputSize; column++) {
        let sum = layer.bias[column] ?? 0;
        for (let k = 0; k < layer.inputSize; k++) {
          sum += (activations[row * layer.inputSize + k] ?? 0) * (layer.weights[k * layer.outputSize + column] ?? 0);
        }
        next[row * layer.outputSize + column] = applyActivation(layer.activation, sum);
      }
    }
    activations = next;
  }
  return activations;
}

function applyActivation(activation: DenseActivation, x: number): number {
  switch (activation) {
    case 'relu':
      return Math.max(0, x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh(x);
    case 'linear':
      return x;
  }
}

describe('exportMlpToOnnx', () => {
  const inputSize = 12;
  const batch = 200;
  const plan: LayerPlan[] = [
    { units: 32, activation: 'relu', name: 'hidden_1' },
    { units: 16, activation: 'relu', name: 'hidden_2' },
    { units: 1, activation: 'sigmoid', name: 'score' },
  ];
  const spec = (layers: DenseLayerSpec[]): MlpSpec => ({
    layers,
    inputName: 'features',
    outputName: 'click_probability',
    producerName: 'nexttap-test',
    docString: 'Seeded 12-32-16-1 MLP',
    metadata: { feature_version: '3', trained_at: '2024-05-01T00:00:00Z' },
  });

  it('matches tfjs predict for 12-32-16-1 MLP', async () => {
    const model = buildSeededMlp(7, inputSize, plan);
    const rows = randomFloats(createRandom(11), batch * inputSize, 2);
    const mlp = spec(extractDenseLayers(model));

    const { session, output } = await runOnnx(exportMlpToOnnx(mlp), mlp, rows, inputSize);
    const expected = predictWithTfjs(model, rows, inputSize);

    expect(output.type).toBe('float32');
    expect(output.dims).toEqual([batch, 1]);
    expect(maxAbsoluteDifference(expected, output.data as Float32Array)).toBeLessThanOrEqual(TOLERANCE);
    await session.release();
    model.dispose();
  });

  it('declares names and symbolic batch dimension', async () => {
    const model = buildSeededMlp(7, inputSize, plan);
    const mlp = spec(extractDenseLayers(model));

    const session = await ort.InferenceSession.create(exportMlpToOnnx(mlp));

    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['click_probability']);
    expect(session.inputMetadata[0]).toMatchObject({ isTensor: true, type: 'float32', shape: ['batch', inputSize] });
    expect(session.outputMetadata[0]).toMatchObject({ isTensor: true, type: 'float32', shape: ['batch', 1] });
    await session.release();
    model.dispose();
  });

  it('writes IR version, opset, producer and metadata', () => {
    const model = buildSeededMlp(7, inputSize, plan);

    const header = readModelHeader(exportMlpToOnnx(spec(extractDenseLayers(model))));

    expect(header.irVersion).toBe(8);
    expect(header.opsets).toEqual([{ domain: '', version: 17 }]);
    expect(header.producerName).toBe('nexttap-test');
    expect(header.docString).toBe('Seeded 12-32-16-1 MLP');
    expect(header.metadata.get('feature_version')).toBe('3');
    expect(header.metadata.get('trained_at')).toBe('2024-05-01T00:00:00Z');
    expect(header.metadata.size).toBe(2);
    model.dispose();
  });

  it('exports single linear layer', async () => {
    const model = buildSeededMlp(23, 5, [{ units: 1, activation: 'linear', name: 'linear_score' }]);
    const rows = randomFloats(createRandom(29), batch * 5, 3);
    const mlp: MlpSpec = { layers: extractDenseLayers(model), inputName: 'x', outputName: 'y', producerName: 'nexttap-test' };

    const { session, output } = await runOnnx(exportMlpToOnnx(mlp), mlp, rows, 5);
    const expected = predictWithTfjs(model, rows, 5);

    expect(output.dims).toEqual([batch, 1]);
    expect(maxAbsoluteDifference(expected, output.data as Float32Array)).toBeLessThanOrEqual(TOLERANCE);
    expect(readModelHeader(exportMlpToOnnx(mlp)).metadata.size).toBe(0);
    await session.release();
    model.dispose();
  });

  it('matches float64 reference for random specs', async () => {
    const activation = fc.constantFrom<DenseActivation>('relu', 'sigmoid', 'tanh', 'linear');
    const layerShape = fc.record({ outputSize: fc.integer({ min: 1, max: 8 }), activation });
    const arbitrary = fc.record({
      inputSize: fc.integer({ min: 1, max: 8 }),
      shapes: fc.array(layerShape, { minLength: 1, maxLength: 4 }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      batch: fc.integer({ min: 1, max: 16 }),
    });

    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ inputSize: width, shapes, seed, batch: rowCount }) => {
        const random = createRandom(seed);
        const layers: DenseLayerSpec[] = [];
        let fanIn = width;
        for (const shape of shapes) {
          layers.push({
            weights: randomFloats(random, fanIn * shape.outputSize, 1),
            bias: randomFloats(random, shape.outputSize, 1),
            inputSize: fanIn,
            outputSize: shape.outputSize,
            activation: shape.activation,
          });
          fanIn = shape.outputSize;
        }
        const mlp: MlpSpec = { layers, inputName: 'in', outputName: 'out', producerName: 'nexttap-test' };
        const rows = randomFloats(random, rowCount * width, 1);

        const { session, output } = await runOnnx(exportMlpToOnnx(mlp), mlp, rows, width);
        const expected = forwardReference(layers, rows, rowCount);
        await session.release();

        expect(output.dims).toEqual([rowCount, fanIn]);
        const actual = output.data as Float32Array;
        // Float32 rounding grows with the magnitude of the output, so the bound is relative above 1.
        expected.forEach((value, index) => {
          expect(Math.abs(value - (actual[index] ?? Number.NaN))).toBeLessThanOrEqual(TOLERANCE * Math.max(1, Math.abs(value)));
        });
      }),
      { numRuns: 30 },
    );
  });

  it('rejects inconsistent specs', () => {
    const layer = (overrides: Partial<DenseLayerSpec>): DenseLayerSpec => ({
      weights: new Float32Array(6),
      bias: new Float32Array(3),
      inputSize: 2,
      outputSize: 3,
      activation: 'relu',
      ...overrides,
    });
    const base = { inputName: 'in', outputName: 'out', producerName: 'nexttap-test' };
    const cases: Array<[string, MlpSpec, RegExp]> = [
      ['no layers', { ...base, layers: [] }, /layers is empty/],
      ['kernel length', { ...base, layers: [layer({ weights: new Float32Array(5) })] }, /layer 0 weights has 5 values, expected .* = 6/],
      ['bias length', { ...base, layers: [layer({ bias: new Float32Array(2) })] }, /layer 0 bias has 2 values, expected outputSize = 3/],
      ['chain', { ...base, layers: [layer({}), layer({ inputSize: 4, weights: new Float32Array(12) })] }, /layer 1 inputSize is 4 but layer 0 outputSize is 3/],
      ['zero size', { ...base, layers: [layer({ inputSize: 0, weights: new Float32Array(0) })] }, /layer 0 inputSize is 0/],
      ['NaN weight', { ...base, layers: [layer({ weights: Float32Array.of(0, 0, Number.NaN, 0, 0, 0) })] }, /layer 0 weights\[2\] is NaN/],
      ['activation', { ...base, layers: [layer({ activation: 'softmax' as DenseActivation })] }, /activation "softmax" is not supported/],
      ['same names', { ...base, outputName: 'in', layers: [layer({})] }, /inputName and outputName are both "in"/],
      ['reserved name', { ...base, outputName: 'dense_0/Add:0', layers: [layer({})] }, /reserved for internal tensors/],
    ];

    for (const [label, invalid, message] of cases) {
      expect(() => exportMlpToOnnx(invalid), label).toThrow(message);
    }
  });
});

describe('extractDenseLayers', () => {
  it('reads kernel, bias and activation', () => {
    const model = buildSeededMlp(3, 4, [
      { units: 3, activation: 'tanh', name: 'a' },
      { units: 2, activation: 'linear', name: 'b' },
    ]);
    const [kernel, bias] = model.getLayer('a').getWeights();

    const layers = extractDenseLayers(model);

    expect(layers.map((layer) => [layer.inputSize, layer.outputSize, layer.activation])).toEqual([
      [4, 3, 'tanh'],
      [3, 2, 'linear'],
    ]);
    expect(Array.from(layers[0]?.weights ?? [])).toEqual(Array.from(kernel?.dataSync() ?? []));
    expect(Array.from(layers[0]?.bias ?? [])).toEqual(Array.from(bias?.dataSync() ?? []));
    model.dispose();
  });

  it('uses zero bias when useBias is false', () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 2, inputShape: [3], useBias: false, activation: 'relu' }));

    const [layer] = extractDenseLayers(model);

    expect(layer?.bias).toEqual(new Float32Array(2));
    expect(layer?.weights.length).toBe(6);
    model.dispose();
  });

  it('rejects non-dense layer', () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 4, inputShape: [3], activation: 'relu', name: 'hidden' }));
    model.add(tf.layers.batchNormalization({ name: 'norm' }));
    model.add(tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'score' }));

    expect(() => extractDenseLayers(model)).toThrow(/Layer "norm" is a BatchNormalization layer/);
    expect(() => extractDenseLayers(model)).toThrow(/supports only Dense layers with activation relu, sigmoid, tanh, linear/);
    model.dispose();
  });

  it('rejects unsupported activation', () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 3, inputShape: [3], activation: 'softmax', name: 'probabilities' }));

    expect(() => extractDenseLayers(model)).toThrow(/Dense layer "probabilities" has activation "softmax"/);
    model.dispose();
  });

  it('rejects shared Dense layer', () => {
    const input = tf.input({ shape: [3] });
    const shared = tf.layers.dense({ units: 3, name: 'shared' });
    const output = shared.apply(shared.apply(input)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });

    expect(() => extractDenseLayers(model)).toThrow(/Dense layer "shared" is applied 2 times/);
    model.dispose();
  });

  it('rejects rank-3 input', () => {
    const input = tf.input({ shape: [2, 3] });
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 1 }).apply(input) as tf.SymbolicTensor });

    expect(() => extractDenseLayers(model)).toThrow(/input has shape \[null,2,3\]/);
    model.dispose();
  });
});
