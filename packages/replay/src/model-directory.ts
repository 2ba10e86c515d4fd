import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
// The model loader alone: the package index also loads the ONNX exporter and its protobuf library.
import { loadRankingModel, type RankingModel } from '@nexttap/model/ranking-model';
import { describeError, REPLAY_ERROR_CODES, ReplayError } from './errors';

export type { RankingModel } from '@nexttap/model';

const MODEL_REFERENCE = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})(?:@([A-Za-z0-9][A-Za-z0-9._-]{0,63}))?$/;

/**
 * Resolves `NAME[@VERSION]` to the folder `modelsDirectory/NAME/VERSION`. Without a version it
 * takes the highest version folder, comparing digit runs as numbers, so version 10 beats 9.
 *
 * @throws ReplayError `REPLAY_ERR_INVALID_OPTION` naming the reference when it is malformed, and
 * `REPLAY_ERR_INVALID_MODEL` when no folder matches it
 */
export async function resolveModelDirectory(modelsDirectory: string, reference: string): Promise<string> {
  const match = MODEL_REFERENCE.exec(reference);
  if (match === null) {
    throw new ReplayError(REPLAY_ERROR_CODES.invalidOption, `--model ${reference} is invalid; pass NAME or NAME@VERSION, such as movielens-mlp@1`);
  }
  const [, name = '', version] = match;
  const modelFolder = join(modelsDirectory, name);
  if (version !== undefined) {
    await requireDirectory(join(modelFolder, version), reference, modelsDirectory);
    return join(modelFolder, version);
  }
  let entries: string[];
  try {
    entries = await readdir(modelFolder);
  } catch (error) {
    throw unreadableFolder(reference, modelFolder, modelsDirectory, error);
  }
  const versions = entries.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  for (const candidate of versions) {
    if ((await stat(join(modelFolder, candidate))).isDirectory()) {
      return join(modelFolder, candidate);
    }
  }
  throw modelNotFound(reference, `folder ${modelFolder} has no version folders`, modelsDirectory);
}

async function requireDirectory(directory: string, reference: string, modelsDirectory: string): Promise<void> {
  try {
    if ((await stat(directory)).isDirectory()) {
      return;
    }
  } catch (error) {
    throw unreadableFolder(reference, directory, modelsDirectory, error);
  }
  throw new ReplayError(REPLAY_ERROR_CODES.invalidModel, `--model ${reference}: ${directory} is not a folder`);
}

/**
 * Returns the error for a model folder that `stat` or `readdir` failed on. A missing folder is a
 * model not found, in the words of `models validate` and the admin API. Any other cause is
 * reported with its message.
 */
function unreadableFolder(reference: string, folder: string, modelsDirectory: string, error: unknown): ReplayError {
  const code = (error as { code?: unknown }).code;
  // ENOTDIR: a file lies on the path, so the folder does not exist either.
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return modelNotFound(reference, `folder ${folder} does not exist`, modelsDirectory, error);
  }
  return new ReplayError(REPLAY_ERROR_CODES.invalidModel, `--model ${reference}: folder ${folder} could not be read (${describeError(error)})`, { cause: error });
}

function modelNotFound(reference: string, problem: string, modelsDirectory: string, cause?: unknown): ReplayError {
  return new ReplayError(
    REPLAY_ERROR_CODES.invalidModel,
    `--model ${reference} not found: ${problem}; list the models with nexttap models list --models-dir ${modelsDirectory}`,
    { cause },
  );
}

/**
 * Resolves each `NAME[@VERSION]` of `references` in the registry folder `modelsDirectory` and loads
 * the models. Each manifest must name the folders it was found in, as the ranker's registry
 * requires, because a report names a model by its manifest.
 *
 * @throws ReplayError as `resolveModelDirectory` and `loadModels` do, and `REPLAY_ERR_INVALID_MODEL`
 * naming both versions when a manifest does not match its folders
 */
export async function loadRegistryModels(modelsDirectory: string, references: readonly string[]): Promise<RankingModel[]> {
  const directories = await Promise.all(references.map((reference) => resolveModelDirectory(modelsDirectory, reference)));
  const models = await loadModels(directories);
  const mismatch = models.findIndex((model, index) => {
    const directory = directories[index] as string;
    return model.manifest.version !== basename(directory) || model.manifest.name !== basename(dirname(directory));
  });
  if (mismatch >= 0) {
    const { name, version } = (models[mismatch] as RankingModel).manifest;
    const directory = directories[mismatch] as string;
    await Promise.all(models.map((model) => model.release()));
    throw new ReplayError(
      REPLAY_ERROR_CODES.invalidModel,
      `--model ${references[mismatch] ?? ''}: the manifest in ${directory} names ${name}@${version}, not ${basename(dirname(directory))}@${basename(directory)}; make the manifest's name and version match the folder names`,
    );
  }
  return models;
}

/**
 * Loads and validates the models in `directories` with `loadRankingModel`. When one fails, the
 * models loaded before it are released.
 *
 * @throws ReplayError `REPLAY_ERR_INVALID_MODEL` with the loader's message, which names the folder
 */
export async function loadModels(directories: readonly string[]): Promise<RankingModel[]> {
  const models: RankingModel[] = [];
  try {
    for (const directory of directories) {
      models.push(await loadRankingModel(directory));
    }
  } catch (error) {
    await Promise.all(models.map((model) => model.release()));
    throw new ReplayError(REPLAY_ERROR_CODES.invalidModel, describeError(error), { cause: error });
  }
  return models;
}
