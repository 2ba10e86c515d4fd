import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FEATURE_SCHEMA_VERSION, findFeature, type FeatureDefinition, type FeatureMatrix } from '@nexttap/features';
import * as ort from 'onnxruntime-node';
import { manifestSchema, type ModelManifest } from './manifest';

// The onnxruntime library bundled with onnxruntime-node 1.31 starts Microsoft's usage telemetry
// when it creates its environment, at the first session: it writes a device id and a queue of
// events under ~/.cache/Microsoft/DeveloperTools/.onnxruntime, for a collector at
// mobile.events.data.microsoft.com. The library reads ORT_DISABLE_TELEMETRY at that moment, so
// setting it here, before any session, turns the telemetry off. An operator's own value is kept.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/** A model that failed validation; the message names the model, the field and the fix. */
export class ModelValidationError extends Error {
  override readonly name = 'ModelValidationError';
  constructor(
    readonly modelPath: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`model ${modelPath}: ${message}`, options);
  }
}

export interface LoadModelOptions {
  /** Threads onnxruntime uses inside one run. Default 1: a feed batch is small and requests run in parallel. */
  intraOpThreads?: number;
}

/** A validated ONNX ranking model, ready to score feature matrices. */
export interface RankingModel {
  manifest: ModelManifest;
  features: readonly FeatureDefinition[];
  /** Scores each row; higher is better. Rejects when the run fails. */
  score(matrix: FeatureMatrix): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Rows of the smoke batch run at load time. */
const SMOKE_ROWS = 16;

/**
 * Loads `model.onnx` and `manifest.json` from a folder and validates them: the manifest schema, every
 * feature against the feature registry, the graph's input and output names, types and shapes, and a
 * smoke batch that must return one finite score per row.
 */
export async function loadRankingModel(directory: string, options: LoadModelOptions = {}): Promise<RankingModel> {
  const manifest = await readManifest(directory);
  const features = resolveManifestFeatures(directory, manifest);
  let session: ort.InferenceSession;
  const bytes = await readModelFile(directory, 'model.onnx', 'export a valid ONNX file');
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: options.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (error) {
    throw new ModelValidationError(directory, `model.onnx could not be loaded (${describe(error)}); export a valid ONNX file`, { cause: error });
  }
  try {
    checkGraph(directory, manifest, session);
    const model = createModel(manifest, features, session);
    await runSmokeBatch(directory, model);
    return model;
  } catch (error) {
    await session.release();
    throw error;
  }
}

/**
 * Checks a model folder without creating an onnxruntime session, so it costs one small file read:
 * the manifest (JSON, schema, feature names and feature schema version) and that model.onnx is a
 * file. Only `loadRankingModel` checks the graph and runs the smoke batch.
 *
 * @throws ModelValidationError naming the first problem found
 */
export async function checkModelFiles(directory: string): Promise<ModelManifest> {
  const manifest = await readManifest(directory);
  resolveManifestFeatures(directory, manifest);
  const path = join(directory, 'model.onnx');
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (error) {
    throw new ModelValidationError(directory, `model.onnx could not be read (${describe(error)}); export a valid ONNX file`, { cause: error });
  }
  if (!isFile) {
    throw new ModelValidationError(directory, `${path} is not a file; replace it with the model's model.onnx`);
  }
  return manifest;
}

/**
 * Reads one file of a model folder. A path that is a folder gets its own message, because the
 * EISDIR error of readFile names neither the path nor the problem.
 *
 * @throws ModelValidationError naming the file when it is missing, a folder or unreadable; `fix`
 *   ends the message of a file that could not be read
 */
async function readModelFile(directory: string, name: string, fix: string): Promise<Buffer> {
  const path = join(directory, name);
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EISDIR') {
      throw new ModelValidationError(directory, `${path} is a folder, not a file; replace it with the model's ${name}`, { cause: error });
    }
    throw new ModelValidationError(directory, `${name} could not be read (${describe(error)}); ${fix}`, { cause: error });
  }
}

async function readManifest(directory: string): Promise<ModelManifest> {
  const text = (await readModelFile(directory, 'manifest.json', 'put it next to model.onnx')).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ModelValidationError(directory, `manifest.json is not valid JSON (${describe(error)})`, { cause: error });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ModelValidationError(directory, `manifest.json is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

function resolveManifestFeatures(directory: string, manifest: ModelManifest): FeatureDefinition[] {
  if (manifest.featureSchemaVersion !== FEATURE_SCHEMA_VERSION) {
    throw new ModelValidationError(
      directory,
      `manifest featureSchemaVersion is ${manifest.featureSchemaVersion} but the feature code is at version ${FEATURE_SCHEMA_VERSION}; retrain the model on the current features`,
    );
  }
  const unknown = manifest.features.filter((name) => findFeature(name) === undefined);
  if (unknown.length > 0) {
    throw new ModelValidationError(
      directory,
      `manifest features name ${unknown.join(', ')}, which the feature code does not produce; use names from the feature registry, listed in docs/features.md`,
    );
  }
  const repeated = manifest.features.filter((name, index) => manifest.features.indexOf(name) !== index);
  if (repeated.length > 0) {
    throw new ModelValidationError(directory, `manifest features list ${repeated.join(', ')} more than once; list each feature once`);
  }
  return manifest.features.map((name) => findFeature(name) as FeatureDefinition);
}

function checkGraph(directory: string, manifest: ModelManifest, session: ort.InferenceSession): void {
  const input = session.inputMetadata.find((entry) => entry.name === manifest.input.name);
  if (input === undefined) {
    throw new ModelValidationError(directory, `input.name ${manifest.input.name} is not a graph input; the graph has ${session.inputNames.join(', ')}`);
  }
  if (session.inputNames.length !== 1) {
    throw new ModelValidationError(directory, `the graph has ${session.inputNames.length} inputs; a ranking model takes one float32 [batch, features] input`);
  }
  if (!input.isTensor || input.type !== 'float32') {
    throw new ModelValidationError(directory, `input ${input.name} must be a float32 tensor`);
  }
  const width = input.shape[1];
  if (input.shape.length !== 2 || (typeof width === 'number' && width !== manifest.features.length)) {
    throw new ModelValidationError(
      directory,
      `input ${input.name} has shape [${input.shape.join(', ')}] but the manifest lists ${manifest.features.length} features; expected [batch, ${manifest.features.length}]`,
    );
  }
  const output = session.outputMetadata.find((entry) => entry.name === manifest.output.name);
  if (output === undefined) {
    throw new ModelValidationError(directory, `output.name ${manifest.output.name} is not a graph output; the graph has ${session.outputNames.join(', ')}`);
  }
  if (!output.isTensor || output.type !== 'float32') {
    throw new ModelValidationError(directory, `output ${output.name} must be a float32 tensor`);
  }
}

function createModel(manifest: ModelManifest, features: readonly FeatureDefinition[], session: ort.InferenceSession): RankingModel {
  let released = false;
  return {
    manifest,
    features,
    async score(matrix) {
      if (matrix.columns !== features.length) {
        throw new Error(`model ${manifest.name}@${manifest.version} expects ${features.length} features, got ${matrix.columns}`);
      }
      const tensor = new ort.Tensor('float32', matrix.data, [matrix.rows, matrix.columns]);
      const outputs = await session.run({ [manifest.input.name]: tensor });
      const output = outputs[manifest.output.name];
      if (output === undefined || output.data.length !== matrix.rows) {
        throw new Error(`model ${manifest.name}@${manifest.version} returned ${output?.data.length ?? 0} scores for ${matrix.rows} rows`);
      }
      return output.data as Float32Array;
    },
    async release() {
      if (!released) {
        released = true;
        await session.release();
      }
    },
  };
}

async function runSmokeBatch(directory: string, model: RankingModel): Promise<void> {
  const columns = model.features.length;
  const data = new Float32Array(SMOKE_ROWS * columns);
  // Row 0 holds every default; the others vary each value around it, so a model that breaks on
  // plausible inputs fails here rather than on a client's request.
  for (let row = 0; row < SMOKE_ROWS; row++) {
    for (let column = 0; column < columns; column++) {
      const base = model.features[column]?.defaultValue ?? 0;
      data[row * columns + column] = base + (row === 0 ? 0 : ((row * 7 + column * 3) % 11) / 5 - 1);
    }
  }
  let scores: Float32Array;
  try {
    scores = await model.score({ data, rows: SMOKE_ROWS, columns, featureNames: model.manifest.features });
  } catch (error) {
    throw new ModelValidationError(directory, `the smoke batch failed (${describe(error)}); check the output shape is [batch, 1]`, { cause: error });
  }
  const bad = scores.findIndex((score) => !Number.isFinite(score));
  if (bad >= 0) {
    throw new ModelValidationError(directory, `the smoke batch returned ${scores[bad]} for row ${bad}; a model must return finite scores`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
