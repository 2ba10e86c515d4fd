import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkModelFiles, loadRankingModel, ModelValidationError, type LoadModelOptions, type RankingModel } from './ranking-model';

/** Name or version segment of a model folder, the same rule the manifest applies. */
const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A model version in the registry: `models/<name>/<version>/`. */
export interface ModelReference {
  name: string;
  version: string;
}

/** A registry version with the result of the quick check of its files. */
export interface CheckedModelReference extends ModelReference {
  /** The reason the version cannot serve, from the quick check; undefined when the check passed. */
  problem: string | undefined;
}

/** A model reference that is not of the form `name@version`. */
export class ModelReferenceError extends Error {
  override readonly name = 'ModelReferenceError';
}

/** A model version the registry does not contain. */
export class ModelNotFoundError extends Error {
  override readonly name = 'ModelNotFoundError';
  constructor(
    readonly reference: ModelReference,
    readonly directory: string,
  ) {
    super(`model ${formatModelReference(reference)} not found: ${directory} has no manifest.json; list the models with nexttap models list`);
  }
}

/** Parses `name@version` (or `name/version`) into a reference; rejects anything that could leave the registry folder. */
export function parseModelReference(text: string): ModelReference {
  const separator = text.includes('@') ? '@' : '/';
  const parts = text.split(separator);
  const [name, version] = parts;
  if (parts.length !== 2 || name === undefined || version === undefined || !PATH_SEGMENT.test(name) || !PATH_SEGMENT.test(version)) {
    throw new ModelReferenceError(
      `model ${JSON.stringify(text)} is not a model reference; write it as name@version, e.g. movielens-mlp@1, with letters, digits, dots, dashes or underscores`,
    );
  }
  return { name, version };
}

export function formatModelReference(reference: ModelReference): string {
  return `${reference.name}@${reference.version}`;
}

/**
 * The model versions under one folder, laid out as `<root>/<name>/<version>/` with `model.onnx`
 * and `manifest.json`. Loading goes through `loadRankingModel`, so every model is validated
 * before it can serve, and also checks that the manifest names the folder it lies in.
 */
export class ModelRegistry {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  directoryOf(reference: ModelReference): string {
    return join(this.root, reference.name, reference.version);
  }

  /** Lists every folder that contains a manifest.json, sorted by name and version; loads nothing. */
  async list(): Promise<ModelReference[]> {
    const found: ModelReference[] = [];
    for (const name of await subfolders(this.root)) {
      for (const version of await subfolders(join(this.root, name))) {
        if (await isFile(join(this.root, name, version, 'manifest.json'))) {
          found.push({ name, version });
        }
      }
    }
    return found.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version, undefined, { numeric: true }));
  }

  /**
   * Lists every version like `list`, each with the result of `check`. Reads each manifest, so it
   * costs one small file read per version and creates no onnxruntime session.
   */
  async listChecked(): Promise<CheckedModelReference[]> {
    const references = await this.list();
    return Promise.all(references.map(async (reference) => ({ ...reference, problem: await this.check(reference) })));
  }

  /**
   * Checks one version without loading its ONNX graph: the manifest as `checkModelFiles` reads it,
   * that it names the folder it lies in, and that model.onnx is a file. Returns the problem, or
   * undefined when the check passed. A version that passes can still fail the graph checks and
   * the smoke batch of `load`, which `nexttap models validate` runs.
   */
  async check(reference: ModelReference): Promise<string | undefined> {
    const directory = this.directoryOf(reference);
    try {
      const manifest = await checkModelFiles(directory);
      checkFolderNames(directory, reference, manifest);
      return undefined;
    } catch (error) {
      if (error instanceof ModelValidationError) {
        return error.message;
      }
      throw error;
    }
  }

  /**
   * Loads and validates one version. Rejects with ModelNotFoundError when its folder has no
   * manifest.json, and with ModelValidationError when the manifest is not a file or the model is
   * invalid.
   */
  async load(reference: ModelReference, options: LoadModelOptions = {}): Promise<RankingModel> {
    const directory = this.directoryOf(reference);
    const manifestPath = join(directory, 'manifest.json');
    const manifestStats = await stat(manifestPath).catch(() => undefined);
    if (manifestStats === undefined) {
      throw new ModelNotFoundError(reference, directory);
    }
    // A manifest.json that is a folder makes a broken version, not a missing one.
    if (!manifestStats.isFile()) {
      const kind = manifestStats.isDirectory() ? 'a folder, not a file' : 'not a regular file';
      throw new ModelValidationError(directory, `${manifestPath} is ${kind}; replace it with the model's manifest.json`);
    }
    const model = await loadRankingModel(directory, options);
    try {
      checkFolderNames(directory, reference, model.manifest);
    } catch (error) {
      await model.release();
      throw error;
    }
    return model;
  }
}

/** Rejects a manifest whose name and version differ from the folder `models/<name>/<version>` it lies in. */
function checkFolderNames(directory: string, reference: ModelReference, manifest: ModelReference): void {
  const { name, version } = manifest;
  if (name !== reference.name || version !== reference.version) {
    throw new ModelValidationError(
      directory,
      `manifest names ${name}@${version} but the folder is ${formatModelReference(reference)}; make manifest name and version match the folder names`,
    );
  }
}

async function subfolders(directory: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((entry) => entry.isDirectory() && PATH_SEGMENT.test(entry.name)).map((entry) => entry.name);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
