import type * as tf from '@tensorflow/tfjs';

import type { DenseActivation, DenseLayerSpec } from './onnx-export';

type Layer = tf.LayersModel['layers'][number];

const SUPPORTED_ACTIVATIONS: readonly DenseActivation[] = ['relu', 'sigmoid', 'tanh', 'linear'];

const SUPPORTED_LAYERS = `Dense layers with activation ${SUPPORTED_ACTIVATIONS.join(', ')}`;

/**
 * Reads the kernel, bias and activation of every Dense layer of a built tfjs
 * model, in evaluation order, as input for `exportMlpToOnnx`.
 *
 * The model must take one input of shape `[batch, features]` and return one
 * output. An InputLayer is skipped because it computes nothing. Any other layer
 * type, an unsupported activation or a Dense layer applied more than once
 * throws an Error naming the layer. The returned arrays are copies, so later
 * training does not change them.
 */
export function extractDenseLayers(model: tf.LayersModel | tf.Sequential): DenseLayerSpec[] {
  const input = model.inputs[0];
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || input === undefined) {
    throw new Error(
      `Model "${model.name}" has ${model.inputs.length} inputs and ${model.outputs.length} outputs, but ` +
        'ONNX export supports one input and one output.',
    );
  }
  if (input.shape.length !== 2) {
    throw new Error(
      `Model "${model.name}" input has shape ${JSON.stringify(input.shape)}, but ` +
        'ONNX export supports only rank-2 input [batch, features].',
    );
  }

  const specs: DenseLayerSpec[] = [];
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') {
      continue;
    }
    if (className !== 'Dense') {
      throw new Error(`Layer "${layer.name}" is a ${className} layer, but ONNX export supports only ${SUPPORTED_LAYERS}.`);
    }
    // Applying one Dense layer at several points of a functional model would be
    // exported as a single application, so reject it instead of exporting the wrong graph.
    // NOTE: inboundNodes also counts calls made while building other models, so a
    // layer shared with a second model is rejected here too.
    if (layer.inboundNodes.length !== 1) {
      throw new Error(
        `Dense layer "${layer.name}" is applied ${layer.inboundNodes.length} times, but ` +
          'ONNX export supports only a chain where each layer is applied once.',
      );
    }
    specs.push(readDenseLayer(layer));
  }

  if (specs.length === 0) {
    throw new Error(`Model "${model.name}" has no layers to export. ONNX export expects ${SUPPORTED_LAYERS}.`);
  }
  return specs;
}

function readDenseLayer(layer: Layer): DenseLayerSpec {
  const activation = layer.getConfig()['activation'];
  if (!isSupportedActivation(activation)) {
    throw new Error(
      `Dense layer "${layer.name}" has activation "${String(activation)}", but ` +
        `ONNX export supports only ${SUPPORTED_ACTIVATIONS.join(', ')}.`,
    );
  }

  const [kernel, bias] = layer.getWeights();
  if (kernel === undefined || kernel.rank !== 2) {
    throw new Error(`Dense layer "${layer.name}" has no 2-D kernel. Build the model by giving it an input shape before export.`);
  }
  if (kernel.dtype !== 'float32' || (bias !== undefined && bias.dtype !== 'float32')) {
    throw new Error(`Dense layer "${layer.name}" has ${kernel.dtype} weights, but ONNX export supports only float32.`);
  }

  const [inputSize, outputSize] = kernel.shape as [number, number];
  // getWeights() returns the layer's live variables and dataSync() may return
  // the backend's own buffer, so copy before handing the values out.
  const weights = Float32Array.from(kernel.dataSync() as Float32Array);
  // A layer built with useBias: false has only a kernel, which equals a zero bias.
  const biasValues = bias === undefined ? new Float32Array(outputSize) : Float32Array.from(bias.dataSync() as Float32Array);

  return { weights, bias: biasValues, inputSize, outputSize, activation };
}

function isSupportedActivation(value: unknown): value is DenseActivation {
  return typeof value === 'string' && (SUPPORTED_ACTIVATIONS as readonly string[]).includes(value);
}
