export * from './manifest';
export * from './onnx-export';
export * from './ranking-model';
export * from './tfjs-dense';
export * from './test-model';
export * from './model-registry';
export * from './shared-model';
