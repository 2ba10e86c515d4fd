import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadRankingModel,
  ModelNotFoundError,
  ModelReferenceError,
  ModelRegistry,
  ModelValidationError,
  parseModelReference,
  type RankingModel,
} from '@nexttap/model';
import { FlagError, parseFlags } from './command-flags';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  environment: Readonly<Record<string, string | undefined>>;
}

export const MODELS_USAGE = `usage: nexttap models <subcommand> [options]

subcommands:
  validate DIR|NAME@VERSION [--models-dir DIR]
      load a model with every check the ranker runs, and print a summary; the model is a folder
      path such as models/movielens-mlp/1, or a version in the registry such as movielens-mlp@1
  list [--models-dir DIR]
      list the versions in the registry (default: models, or MODELS_DIR)
  activate NAME@VERSION [--url URL]
      ask a running ranker to serve a registry version; the token comes from ADMIN_TOKEN
  rollback [--url URL]
      ask a running ranker to serve the model that was live before the latest activation

--url defaults to http://127.0.0.1:$PORT (PORT defaults to 8080).
`;

const MODELS_VALUE_EXAMPLES = {
  'models-dir': 'a folder, such as --models-dir models',
  url: 'the URL of a running ranker, such as --url http://127.0.0.1:8080',
};

/** Runs `nexttap models …`; returns the exit code: 0 done, 1 failed, 2 usage error. */
export async function runModelsCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags('models', argv, { 'models-dir': { type: 'string' }, url: { type: 'string' }, help: { type: 'boolean', default: false } }, MODELS_VALUE_EXAMPLES);
  } catch (error) {
    if (error instanceof FlagError) {
      return usage(io, error.message);
    }
    throw error;
  }
  const { values, positionals } = parsed;
  const [subcommand, target] = positionals;
  if (values.help || subcommand === undefined) {
    io.stdout.write(MODELS_USAGE);
    return values.help ? 0 : 2;
  }
  const modelsDir = values['models-dir'] ?? io.environment.MODELS_DIR ?? 'models';
  const registry = new ModelRegistry(modelsDir);
  const url = values.url ?? `http://127.0.0.1:${io.environment.PORT ?? '8080'}`;
  switch (subcommand) {
    case 'validate':
      return target === undefined ? usage(io, 'models validate needs a model folder or NAME@VERSION') : validateModel(target, registry, io);
    case 'list': {
      if (!(await isDirectory(modelsDir))) {
        io.stderr.write(`nexttap: the models folder ${modelsDir} does not exist; pass --models-dir DIR or set MODELS_DIR\n`);
        return 1;
      }
      const references = await registry.list();
      if (references.length === 0) {
        io.stderr.write(`nexttap: no model in ${modelsDir}; a model is a folder NAME/VERSION with a manifest.json\n`);
      }
      io.stdout.write(references.map((reference) => `${reference.name}@${reference.version}\n`).join(''));
      return 0;
    }
    case 'activate':
      return target === undefined ? usage(io, 'models activate needs NAME@VERSION') : callAdmin(url, '/v1/admin/models/activate', { model: target }, io);
    case 'rollback':
      return callAdmin(url, '/v1/admin/models/rollback', undefined, io);
    default:
      return usage(io, `models ${subcommand} is not a subcommand`);
  }
}

/**
 * Resolves the target of `models validate`: an existing folder is loaded as it is, a target with
 * `@` is a registry version under the models folder, and anything else is a folder that does not
 * exist.
 */
async function loadTarget(target: string, isFolder: boolean, registry: ModelRegistry): Promise<RankingModel> {
  if (isFolder) {
    return loadRankingModel(target);
  }
  if (target.includes('@')) {
    return registry.load(parseModelReference(target));
  }
  throw new ModelReferenceError(`model folder ${target} not found; pass an existing folder with model.onnx and manifest.json, or NAME@VERSION from nexttap models list`);
}

/** Loads a folder or registry version with the ranker's checks and prints what the ranker would serve. */
async function validateModel(target: string, registry: ModelRegistry, io: CommandIo): Promise<number> {
  let model: RankingModel;
  try {
    model = await loadTarget(target, await isDirectory(target), registry);
  } catch (error) {
    if (error instanceof ModelValidationError || error instanceof ModelNotFoundError || error instanceof ModelReferenceError) {
      const prefix = error instanceof ModelValidationError ? 'invalid model: ' : '';
      io.stderr.write(`nexttap: ${prefix}${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const { manifest } = model;
  await model.release();
  io.stdout.write(
    `${JSON.stringify({ valid: true, model: `${manifest.name}@${manifest.version}`, features: manifest.features, input: manifest.input.name, output: manifest.output.name, metrics: manifest.metrics }, null, 2)}\n`,
  );
  return 0;
}

/** Sends one admin request with the bearer token of ADMIN_TOKEN and prints the reply body. */
async function callAdmin(baseUrl: string, path: string, body: object | undefined, io: CommandIo): Promise<number> {
  const token = io.environment.ADMIN_TOKEN ?? '';
  if (token === '') {
    return usage(io, 'ADMIN_TOKEN is not set; export the token the ranker was started with');
  }
  let response: Response;
  try {
    response = await fetch(new URL(path, baseUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    io.stderr.write(`nexttap: request to ${baseUrl} failed (${error instanceof Error ? error.message : String(error)}); check --url and that the ranker runs\n`);
    return 1;
  }
  const text = await response.text();
  (response.ok ? io.stdout : io.stderr).write(`${text}\n`);
  if (response.status === 404 && !text.includes('RANKER_ERR_')) {
    io.stderr.write('nexttap: the ranker has no admin routes; start it with ADMIN_TOKEN set\n');
  }
  return response.ok ? 0 : 1;
}

/**
 * Runs the TypeScript training script (models/train/main.ts) in a child process with the same
 * options, and returns its exit code. `npx nexttap train --help` lists them.
 */
export function runTrainCommand(argv: readonly string[]): Promise<number> {
  const script = fileURLToPath(new URL('../../../models/train/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...argv], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

function usage(io: CommandIo, message: string): number {
  io.stderr.write(`nexttap: ${message}\n\n${MODELS_USAGE}`);
  return 2;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(join(path))).isDirectory();
  } catch {
    return false;
  }
}
