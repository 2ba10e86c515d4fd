import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
    await requireDirectory(join(modelFolder, version), reference);
    return join(modelFolder, version);
  }
  let entries: string[];
  try {
    entries = await readdir(modelFolder);
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.invalidModel, `--model ${reference}: folder ${modelFolder} could not be read (${describeError(error)})`, { cause: error });
  }
  const versions = entries.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  for (const candidate of versions) {
    if ((await stat(join(modelFolder, candidate))).isDirectory()) {
      return join(modelFolder, candidate);
    }
  }
  throw new ReplayError(REPLAY_ERROR_CODES.invalidModel, `--model ${reference}: folder ${modelFolder} has no version folders`);
}

async function requireDirectory(directory: string, reference: string): Promise<void> {
  try {
    if ((await stat(directory)).isDirectory()) {
      return;
    }
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.invalidModel, `--model ${reference}: folder ${directory} could not be read (${describeError(error)})`, { cause: error });
  }
  throw new ReplayError(REPLAY_ERROR_CODES.invalidModel, `--model ${reference}: ${directory} is not a folder`);
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
