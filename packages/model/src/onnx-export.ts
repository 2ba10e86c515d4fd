import {
  encodeModelProto,
  ONNX_FLOAT,
  ONNX_IR_VERSION,
  ONNX_OPSET_VERSION,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './onnx-proto';

/** Activation applied after a dense layer's affine transform. */
export type DenseActivation = 'relu' | 'sigmoid' | 'linear' | 'tanh';

/** One fully connected layer: `activation(x · weights + bias)`. */
export interface DenseLayerSpec {
  /** Kernel in row-major order with `inputSize` rows and `outputSize` columns. */
  weights: Float32Array;
  /** Bias vector of length `outputSize`. */
  bias: Float32Array;
  inputSize: number;
  outputSize: number;
  activation: DenseActivation;
}

/** A feed-forward network of dense layers and the names written into the ONNX file. */
export interface MlpSpec {
  /** Layers in evaluation order, where each layer's `inputSize` equals the previous `outputSize`. */
  layers: readonly DenseLayerSpec[];
  /** Name of the graph input, a float32 tensor of shape `[batch, layers[0].inputSize]`. */
  inputName: string;
  /** Name of the graph output, a float32 tensor of shape `[batch, last layer's outputSize]`. */
  outputName: string;
  /** Written to `ModelProto.producer_name`. */
  producerName: string;
  /** Written to `ModelProto.doc_string`. */
  docString?: string;
  /** Written to `ModelProto.metadata_props`, one entry per key. */
  metadata?: Record<string, string>;
}

/** Name of the symbolic first dimension of the graph input and output. */
export const BATCH_DIMENSION = 'batch';

const ACTIVATION_OPS: Record<DenseActivation, string | null> = {
  relu: 'Relu',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  linear: null,
};

/**
 * Serializes a dense network as an ONNX model (IR version 8, default-domain opset 17).
 *
 * Each layer becomes the nodes MatMul, Add and, unless the activation is
 * linear, Relu, Sigmoid or Tanh. Kernels and biases are stored as float32
 * initializers. Throws an Error naming the layer and field when the spec is
 * inconsistent, for example a kernel whose length is not inputSize × outputSize.
 */
export function exportMlpToOnnx(spec: MlpSpec): Uint8Array {
  const { firstLayer, lastLayer } = validateSpec(spec);

  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  let previousOutput = spec.inputName;

  spec.layers.forEach((layer, index) => {
    const prefix = `dense_${index}`;
    const isLast = index === spec.layers.length - 1;
    const activationOp = ACTIVATION_OPS[layer.activation];
    const kernelName = `${prefix}/kernel`;
    const biasName = `${prefix}/bias`;
    const matMulOutput = `${prefix}/MatMul:0`;
    const addOutput = isLast && activationOp === null ? spec.outputName : `${prefix}/Add:0`;

    initializers.push(float32Initializer(kernelName, [layer.inputSize, layer.outputSize], layer.weights));
    initializers.push(float32Initializer(biasName, [layer.outputSize], layer.bias));

    nodes.push(defaultDomainNode(`${prefix}/MatMul`, 'MatMul', [previousOutput, kernelName], matMulOutput));
    nodes.push(defaultDomainNode(`${prefix}/Add`, 'Add', [matMulOutput, biasName], addOutput));
    previousOutput = addOutput;

    if (activationOp !== null) {
      const activationOutput = isLast ? spec.outputName : `${prefix}/${activationOp}:0`;
      nodes.push(defaultDomainNode(`${prefix}/${activationOp}`, activationOp, [addOutput], activationOutput));
      previousOutput = activationOutput;
    }
  });

  const metadataProps = Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value }));

  return encodeModelProto({
    ir_version: ONNX_IR_VERSION,
    producer_name: spec.producerName,
    doc_string: spec.docString ?? '',
    opset_import: [{ domain: '', version: ONNX_OPSET_VERSION }],
    metadata_props: metadataProps,
    graph: {
      name: 'dense_mlp',
      node: nodes,
      initializer: initializers,
      input: [batchedFloatValue(spec.inputName, firstLayer.inputSize)],
      output: [batchedFloatValue(spec.outputName, lastLayer.outputSize)],
    },
  });
}

function validateSpec(spec: MlpSpec): { firstLayer: DenseLayerSpec; lastLayer: DenseLayerSpec } {
  const firstLayer = spec.layers[0];
  const lastLayer = spec.layers[spec.layers.length - 1];
  if (firstLayer === undefined || lastLayer === undefined) {
    throw new Error('Invalid MLP spec: layers is empty. Pass at least one dense layer.');
  }
  if (spec.inputName === '' || spec.outputName === '') {
    throw new Error('Invalid MLP spec: inputName and outputName must be non-empty strings.');
  }
  if (spec.inputName === spec.outputName) {
    throw new Error(`Invalid MLP spec: inputName and outputName are both "${spec.inputName}". Give them different names.`);
  }

  spec.layers.forEach((layer, index) => {
    const where = `layer ${index}`;
    for (const [field, size] of [['inputSize', layer.inputSize], ['outputSize', layer.outputSize]] as const) {
      if (!Number.isInteger(size) || size <= 0) {
        throw new Error(`Invalid MLP spec: ${where} ${field} is ${size}, expected a positive integer.`);
      }
    }
    if (!Object.hasOwn(ACTIVATION_OPS, layer.activation)) {
      throw new Error(
        `Invalid MLP spec: ${where} activation "${String(layer.activation)}" is not supported. ` +
          `Use one of ${Object.keys(ACTIVATION_OPS).join(', ')}.`,
      );
    }

    const expectedWeights = layer.inputSize * layer.outputSize;
    if (layer.weights.length !== expectedWeights) {
      throw new Error(
        `Invalid MLP spec: ${where} weights has ${layer.weights.length} values, ` +
          `expected inputSize × outputSize = ${layer.inputSize} × ${layer.outputSize} = ${expectedWeights}.`,
      );
    }
    if (layer.bias.length !== layer.outputSize) {
      throw new Error(
        `Invalid MLP spec: ${where} bias has ${layer.bias.length} values, expected outputSize = ${layer.outputSize}.`,
      );
    }
    assertFinite(layer.weights, `${where} weights`);
    assertFinite(layer.bias, `${where} bias`);

    const previous = spec.layers[index - 1];
    if (previous !== undefined && previous.outputSize !== layer.inputSize) {
      throw new Error(
        `Invalid MLP spec: ${where} inputSize is ${layer.inputSize} but layer ${index - 1} ` +
          `outputSize is ${previous.outputSize}. Each layer's inputSize must equal the previous layer's outputSize.`,
      );
    }
  });

  // Internal tensors are named `dense_<i>/...`, so a graph input or output with
  // such a name would give two values the same name and ONNX Runtime rejects the file.
  for (const name of [spec.inputName, spec.outputName]) {
    if (/^dense_\d+\//.test(name)) {
      throw new Error(
        `Invalid MLP spec: name "${name}" is reserved for internal tensors. Choose a name without the dense_<n>/ prefix.`,
      );
    }
  }
  return { firstLayer, lastLayer };
}

function assertFinite(values: Float32Array, label: string): void {
  const badIndex = values.findIndex((value) => !Number.isFinite(value));
  if (badIndex !== -1) {
    throw new Error(`Invalid MLP spec: ${label}[${badIndex}] is ${values[badIndex]}, but all weights and biases must be finite.`);
  }
}

function float32Initializer(name: string, dims: number[], values: Float32Array): OnnxTensor {
  // raw_data must be little-endian whatever the host byte order is.
  const rawData = new Uint8Array(values.length * 4);
  const view = new DataView(rawData.buffer);
  values.forEach((value, index) => view.setFloat32(index * 4, value, true));
  return { name, dims, data_type: ONNX_FLOAT, raw_data: rawData };
}

function defaultDomainNode(name: string, opType: string, input: string[], output: string): OnnxNode {
  return { name, op_type: opType, domain: '', input, output: [output] };
}

function batchedFloatValue(name: string, width: number): OnnxValueInfo {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: ONNX_FLOAT,
        shape: { dim: [{ dim_param: BATCH_DIMENSION }, { dim_value: width }] },
      },
    },
  };
}
