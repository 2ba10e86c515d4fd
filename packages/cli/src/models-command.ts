import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  formatModelReference,
  loadRankingModel,
  ModelNotFoundError,
  ModelReferenceError,
  ModelRegistry,
  ModelValidationError,
  parseModelReference,
  type RankingModel,
} from '@nexttap/model';
import { activateLatestVersion } from './activate-latest';
import { FlagError, parseFlags } from './command-flags';
import { callAdmin } from './ranker-admin';

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
      list the versions in the registry (default: models, or MODELS_DIR), one NAME@VERSION a line;
      an invalid one is followed by "invalid:" and the reason. This quick check reads each manifest
      and checks that model.onnx is a file, but loads no graph; validate runs every check
  activate NAME@VERSION|NAME [--url URL]
      ask a running ranker to serve a version of its own registry (the ranker's MODELS_DIR); the
      token comes from ADMIN_TOKEN. NAME alone takes the highest version of NAME in that registry,
      as replay --model NAME does (version 10 comes after 9), and prints which one it took; when
      that version is invalid, nothing is activated rather than an older version
  rollback [--url URL]
      ask a running ranker to serve the model that was live before the latest activation

--url is the ranker's origin, scheme, host and port without a path, such as http://10.0.0.5:8080;
the command adds the admin path /v1/admin/models/... itself. It defaults to http://127.0.0.1:$PORT
(PORT defaults to 8080).
`;

/** A model name alone, by the rule of a registry folder name: no `@` or `/` and so no version. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const MODELS_VALUE_EXAMPLES = {
  'models-dir': 'a folder, such as --models-dir models',
  url: 'the origin of a running ranker, such as --url http://127.0.0.1:8080',
};

/** The arguments and flags that each subcommand reads, for rejecting the others. */
const SUBCOMMANDS: Readonly<Record<string, { targets: number; target: string; flags: readonly string[] }>> = {
  validate: { targets: 1, target: 'one model folder or NAME@VERSION', flags: ['models-dir'] },
  list: { targets: 0, target: 'no argument', flags: ['models-dir'] },
  activate: { targets: 1, target: 'one NAME@VERSION or NAME', flags: ['url'] },
  rollback: { targets: 0, target: 'no argument', flags: ['url'] },
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
  const { values, positionals, passedFlags } = parsed;
  const [subcommand, target, ...extra] = positionals;
  if (values.help) {
    io.stdout.write(MODELS_USAGE);
    return 0;
  }
  if (subcommand === undefined) {
    // A missing subcommand is a usage error, so the usage goes to stderr with exit code 2.
    io.stderr.write(MODELS_USAGE);
    return 2;
  }
  const definition = Object.hasOwn(SUBCOMMANDS, subcommand) ? SUBCOMMANDS[subcommand] : undefined;
  if (definition === undefined) {
    return usage(io, `models ${subcommand} is not a subcommand; run nexttap models --help for the subcommands`);
  }
  const unexpected = definition.targets === 0 ? [target, ...extra] : extra;
  if (unexpected[0] !== undefined) {
    return usage(io, `unexpected argument ${unexpected.join(' ')}; models ${subcommand} takes ${definition.target}`);
  }
  const unusedFlags = [...passedFlags].filter((name) => name !== 'help' && !definition.flags.includes(name));
  if (unusedFlags.length > 0) {
    return usage(io, `--${unusedFlags.join(', --')} ${unusedFlags.length === 1 ? 'does' : 'do'} not apply to models ${subcommand}; ${describeSubcommandFlags(subcommand)}`);
  }
  const modelsDir = values['models-dir'] ?? io.environment.MODELS_DIR ?? 'models';
  const registry = new ModelRegistry(modelsDir);
  switch (subcommand) {
    case 'validate':
      return target === undefined ? usage(io, 'models validate needs a model folder or NAME@VERSION, such as nexttap models validate movielens-mlp@1') : validateModel(target, modelsDir, registry, io);
    case 'list':
      return listModels(modelsDir, registry, io);
    case 'activate':
      if (target === undefined) {
        return usage(io, 'models activate needs NAME@VERSION or NAME, such as nexttap models activate movielens-mlp@1');
      }
      // A target without a separator names a model, not a version. Anything else goes to the ranker, which rejects malformed references.
      if (MODEL_NAME.test(target)) {
        return activateLatestVersion(values.url, target, io);
      }
      return callAdmin(values.url, '/v1/admin/models/activate', { model: target }, io);
    default:
      return callAdmin(values.url, '/v1/admin/models/rollback', undefined, io);
  }
}

/** Returns which flags a subcommand takes and why the other one does not apply, for a usage error. */
function describeSubcommandFlags(subcommand: string): string {
  if (subcommand === 'validate' || subcommand === 'list') {
    return `models ${subcommand} reads the models folder and takes only --models-dir DIR, so leave --url out`;
  }
  return `models ${subcommand} calls a running ranker, which uses its own MODELS_DIR, and takes only --url URL, so leave --models-dir out`;
}

/**
 * Prints the versions in the registry, one NAME@VERSION a line, each invalid one followed by
 * `invalid:` and the problem that the registry's quick check found.
 */
async function listModels(modelsDir: string, registry: ModelRegistry, io: CommandIo): Promise<number> {
  const kind = await pathKind(modelsDir);
  if (kind !== 'folder') {
    const problems = { missing: 'does not exist', file: 'is a file, not a folder', unreadable: 'could not be read' };
    const problem = problems[kind];
    io.stderr.write(`nexttap: the models folder ${modelsDir} ${problem}; pass --models-dir DIR or set MODELS_DIR\n`);
    return 1;
  }
  const versions = await registry.listChecked();
  if (versions.length === 0) {
    io.stderr.write(`nexttap: no model in ${modelsDir}; a model is a folder NAME/VERSION with a manifest.json\n`);
  }
  const lines = versions.map((version) => {
    const reference = formatModelReference(version);
    return version.problem === undefined ? `${reference}\n` : `${reference} invalid: ${version.problem}\n`;
  });
  io.stdout.write(lines.join(''));
  return 0;
}

/**
 * Resolves the target of `models validate`: an existing folder is loaded as it is, a target with
 * `@` is a registry version under the models folder, and anything else is a folder that does not
 * exist.
 */
async function loadTarget(target: string, isFolder: boolean, modelsDir: string, registry: ModelRegistry): Promise<RankingModel> {
  if (isFolder) {
    return loadRankingModel(target);
  }
  if (target.includes('@')) {
    return registry.load(parseModelReference(target));
  }
  throw new ModelReferenceError(`model folder ${target} not found; pass an existing folder with model.onnx and manifest.json, or NAME@VERSION from ${listCommand(modelsDir)}`);
}

/** Returns the command that lists the registry in `modelsDir`, for a message. */
function listCommand(modelsDir: string): string {
  return `nexttap models list --models-dir ${modelsDir}`;
}

/** Loads a folder or registry version with the ranker's checks and prints what the ranker would serve. */
async function validateModel(target: string, modelsDir: string, registry: ModelRegistry, io: CommandIo): Promise<number> {
  let model: RankingModel;
  try {
    model = await loadTarget(target, (await pathKind(target)) === 'folder', modelsDir, registry);
  } catch (error) {
    // The registry's message suggests the list command without `--models-dir`, which this command has.
    if (error instanceof ModelNotFoundError) {
      io.stderr.write(`nexttap: model ${formatModelReference(error.reference)} not found: ${error.directory} has no manifest.json; list the models with ${listCommand(modelsDir)}\n`);
      return 1;
    }
    if (error instanceof ModelValidationError || error instanceof ModelReferenceError) {
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

/**
 * Runs the TypeScript training script (models/train/main.ts) in a child process with the same
 * options, and returns its exit code. `npx nexttap train --help` lists them.
 */
export function runTrainCommand(argv: readonly string[]): Promise<number> {
  const script = fileURLToPath(new URL('../../../models/train/main.ts', import.meta.url));
  // Resolved here, because `--import tsx` would look for tsx from the current folder, which may be outside the repository.
  const tsxLoader = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsxLoader, script, ...argv], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

/** Prints a usage error as one line and returns exit code 2. The message names the fix or the help to run. */
function usage(io: CommandIo, message: string): number {
  io.stderr.write(`nexttap: ${message}\n`);
  return 2;
}

/** Returns whether `path` is a folder, another kind of file, missing, or not readable. */
async function pathKind(path: string): Promise<'folder' | 'file' | 'missing' | 'unreadable'> {
  try {
    return (await stat(path)).isDirectory() ? 'folder' : 'file';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // ENOTDIR: a folder on the path is a file.
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable';
  }
}
