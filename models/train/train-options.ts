/**
 * Parses and checks the command line of `nexttap train` before any data is read, so that a wrong
 * flag fails in a second instead of after the replay and the fit.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseFlags, FlagError } from '@nexttap/cli/command-flags';
import { findMovieLensFolderProblem } from '@nexttap/cli/movielens-folder';
import { parsePlainInteger } from '@nexttap/http/plain-decimal';
import { DEFAULT_MAX_ANCHORS } from './build-training-set';

/** The manifest name of every model this script writes. */
export const MODEL_NAME = 'movielens-mlp';

const DEFAULT_DATA_DIR = 'data/movielens';
const DEFAULT_VERSION = '1';
/** The registry folder of the ranker, `MODELS_DIR` in docs/configuration.md. */
const DEFAULT_MODELS_DIR = 'models';

/** A manifest version and a registry folder name: the rule of `manifestSchema` in @nexttap/model. */
const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const USAGE = `Usage: npx nexttap train [options]   (or: npm run train -- [options])

Options:
  --data DIR          folder with movies.csv and ratings.csv (default ${DEFAULT_DATA_DIR})
  --out DIR           folder that receives model.onnx and manifest.json; it must be a registry
                      folder ${MODEL_NAME}/VERSION, such as models/${MODEL_NAME}/2, and its last
                      name is the manifest version (default ${DEFAULT_MODELS_DIR}/${MODEL_NAME}/VERSION)
  --version V         manifest version (default: the version folder of --out, else ${DEFAULT_VERSION}); with
                      --out it must equal that folder's name
  --seed N            seed of negative sampling, weight initialisation and shuffling (default 42)
  --max-anchors N     anchor events kept at most, spread evenly over the history (default ${DEFAULT_MAX_ANCHORS});
                      the run stops before the fit when no training or no validation anchor is left
  --export-csv FILE   write the labelled feature rows (train and validation) as CSV to FILE, their
                      feature names, schema version and cutoff to FILE.json, and stop without
                      training; the notebook path trains on these files
  --all-targets       train on every anchor, also those whose liked item candidate generation missed
                      (default: only anchors whose liked item was among the candidates)
  --help              print this text
`;

const FLAGS = {
  data: { type: 'string' },
  out: { type: 'string' },
  seed: { type: 'string', default: '42' },
  'max-anchors': { type: 'string', default: String(DEFAULT_MAX_ANCHORS) },
  'all-targets': { type: 'boolean', default: false },
  'export-csv': { type: 'string' },
  version: { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

const VALUE_EXAMPLES = {
  data: 'a folder, such as --data data/movielens',
  out: `a folder, such as --out models/${MODEL_NAME}/2`,
  seed: 'an integer, such as --seed 7',
  'max-anchors': 'a number of anchors, such as --max-anchors 5000',
  'export-csv': 'a file, such as --export-csv notebooks/data/movielens-rows.csv',
  version: 'a version, such as --version 2',
};

export interface TrainCliOptions {
  dataDir: string;
  /** Absolute folder of the model; undefined with `--export-csv`, which writes no model. */
  outDir: string | undefined;
  /** Manifest version, equal to the name of `outDir`. */
  version: string;
  seed: number;
  maxAnchors: number;
  retrievedTargetsOnly: boolean;
  exportCsv: string | undefined;
}

/** A command-line mistake: printed as one line without a stack trace, with exit code 2. */
export class TrainUsageError extends Error {
  override readonly name = 'TrainUsageError';
}

/**
 * A run that cannot go on because of its input or output files, or a model that failed its check.
 * The message names the file or flag and the cause. It is printed as one line with exit code 1.
 */
export class TrainRunError extends Error {
  override readonly name = 'TrainRunError';
}

/**
 * Parses `argv` and checks every flag, the MovieLens folder and the output folder, without writing
 * anything. Returns undefined after printing the usage for `--help`.
 *
 * @throws TrainUsageError naming the flag, the value and the fix
 * @throws TrainRunError when the data folder lacks its files or the output folder cannot be created
 */
export async function parseTrainOptions(argv: readonly string[], stdout: NodeJS.WritableStream = process.stdout): Promise<TrainCliOptions | undefined> {
  let parsed;
  try {
    parsed = parseFlags('train', joinNegativeValues(argv), FLAGS, VALUE_EXAMPLES);
  } catch (error) {
    throw error instanceof FlagError ? new TrainUsageError(error.message, { cause: error }) : error;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    stdout.write(USAGE);
    return undefined;
  }
  if (positionals[0] !== undefined) {
    throw new TrainUsageError(`unexpected argument ${positionals[0]}; train takes only flags, which nexttap train --help lists`);
  }

  const seed = parseInteger('--seed', values.seed, 0);
  const maxAnchors = parseInteger('--max-anchors', values['max-anchors'], 1);
  const exportCsv = values['export-csv'] === undefined ? undefined : resolve(values['export-csv']);
  const output = exportCsv === undefined ? resolveOutput(values.out, values.version) : undefined;
  if (exportCsv !== undefined && (values.out !== undefined || values.version !== undefined)) {
    const flag = values.out === undefined ? '--version' : '--out';
    throw new TrainUsageError(`${flag} does not apply to --export-csv, which writes feature rows and no model; leave ${flag} out`);
  }

  const dataDir = values.data ?? DEFAULT_DATA_DIR;
  const dataProblem = await findMovieLensFolderProblem({ flag: '--data', directory: dataDir, isDefault: values.data === undefined });
  if (dataProblem !== undefined) {
    throw new TrainRunError(dataProblem);
  }
  if (output !== undefined) {
    await checkCanCreate('--out', output.flagValue, output.outDir, 'folder');
  }
  if (exportCsv !== undefined) {
    await checkCanCreate('--export-csv', values['export-csv'] ?? exportCsv, dirname(exportCsv), 'parent');
  }

  return {
    dataDir: resolve(dataDir),
    outDir: output?.outDir,
    version: output?.version ?? DEFAULT_VERSION,
    seed,
    maxAnchors,
    retrievedTargetsOnly: !values['all-targets'],
    exportCsv,
  };
}

/**
 * Joins a flag and a following value that starts with a minus and a digit, such as `--seed -1`,
 * into `--seed=-1`. node:util parseArgs reads `-1` as a flag of its own and rejects it as
 * ambiguous, and the joined form reaches the range check, whose message states the allowed range.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    const next = argv[index + 1];
    const name = argument.startsWith('--') ? argument.slice(2) : undefined;
    const takesValue = name !== undefined && Object.hasOwn(FLAGS, name) && FLAGS[name as keyof typeof FLAGS].type === 'string';
    if (takesValue && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${argument}=${next}`);
      index += 1;
    } else {
      joined.push(argument);
    }
  }
  return joined;
}

function parseInteger(flag: string, text: string, minimum: number): number {
  // Plain digits only: Number() would also take `0x10`, `1e3` and ` 5`.
  const value = parsePlainInteger(text);
  if (value === undefined || !Number.isSafeInteger(value) || value < minimum) {
    throw new TrainUsageError(`${flag} ${JSON.stringify(text)} is invalid; pass an integer of at least ${minimum}`);
  }
  return value;
}

/**
 * Returns the model folder and the manifest version. The ranker's registry, `models validate
 * NAME@VERSION` and `replay --model` load a model from `MODELS_DIR/NAME/VERSION` only when its
 * manifest names that NAME and VERSION, so `--out` must end in `movielens-mlp/VERSION`, and the
 * version comes from that folder. Without `--out` the folder is `models/movielens-mlp/VERSION`.
 */
function resolveOutput(out: string | undefined, version: string | undefined): { outDir: string; version: string; flagValue: string } {
  if (version !== undefined && !VERSION_PATTERN.test(version)) {
    throw new TrainUsageError(`--version ${JSON.stringify(version)} is invalid; pass 1 to 64 letters, digits, dots, dashes or underscores that start with a letter or digit, such as --version 2`);
  }
  if (out === undefined) {
    const defaultVersion = version ?? DEFAULT_VERSION;
    const flagValue = `${DEFAULT_MODELS_DIR}/${MODEL_NAME}/${defaultVersion}`;
    return { outDir: resolve(flagValue), version: defaultVersion, flagValue };
  }
  const outDir = resolve(out);
  const folderVersion = basename(outDir);
  const folderName = basename(dirname(outDir));
  const example = `--out ${DEFAULT_MODELS_DIR}/${MODEL_NAME}/${version ?? '2'}`;
  if (folderName !== MODEL_NAME) {
    throw new TrainUsageError(
      `--out ${out} is not a folder ${MODEL_NAME}/VERSION; the model is named ${MODEL_NAME}, and the registry loads it only from a folder of that name, so pass a folder such as ${example}`,
    );
  }
  if (!VERSION_PATTERN.test(folderVersion)) {
    throw new TrainUsageError(
      `--out ${out} ends in ${JSON.stringify(folderVersion)}, which is not a valid version; end it in 1 to 64 letters, digits, dots, dashes or underscores, such as ${example}`,
    );
  }
  if (version !== undefined && version !== folderVersion) {
    throw new TrainUsageError(
      `--version ${version} does not match --out ${out}, whose folder names version ${folderVersion}; pass --version ${folderVersion}, or leave --version out to take it from the folder`,
    );
  }
  return { outDir, version: folderVersion, flagValue: out };
}

/**
 * Checks that `folder` is an existing writable folder or can be created. A file or an unreadable
 * path on the way fails with its own message. Then `probeWritable` creates the folder and a file in
 * it, because `access(W_OK)` passes for root even where nothing can be created, such as under
 * /proc. `role` is `folder` when `folder` is the flag's value, and `parent` when it is the parent
 * folder of the file that the flag names.
 *
 * @throws TrainRunError naming the flag, its value, the path at fault and the cause
 */
async function checkCanCreate(flag: string, flagValue: string, folder: string, role: 'folder' | 'parent'): Promise<void> {
  const named = `${flag} ${flagValue}`;
  let path = folder;
  for (;;) {
    const kind = await statKind(path);
    if (kind.kind === 'folder') {
      break;
    }
    if (kind.kind === 'other') {
      const where = path === folder && role === 'folder' ? `${path} is a file, not a folder` : `${path} is a file, so no folder can be created under it`;
      throw new TrainRunError(`${named}: ${where}; pass a path under a folder, or remove the file`);
    }
    if (kind.kind === 'unreadable') {
      throw new TrainRunError(`${named}: ${path} could not be read (${kind.message}); pass a path you can write to`);
    }
    const parent = dirname(path);
    if (parent === path) {
      break;
    }
    path = parent;
  }
  await probeWritable(named, folder, path);
}

/**
 * Creates `folder` and its missing parents below the existing folder `existing`, writes and
 * removes an empty file in it, then removes the folders it created, so that a run that fails later
 * leaves nothing behind.
 *
 * @throws TrainRunError naming the folder and the cause when a step fails
 */
async function probeWritable(named: string, folder: string, existing: string): Promise<void> {
  const created: string[] = [];
  try {
    // One level at a time, because mkdir with `recursive` never settles under /proc: on Node 20.20.2 it
    // retries forever when a folder exists but cannot hold a new one.
    for (const level of missingLevels(folder, existing)) {
      await mkdir(level);
      created.push(level);
    }
    const probe = join(folder, `.nexttap-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
    await writeFile(probe, '', { flag: 'wx' });
    await rm(probe);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new TrainRunError(`${named}: the folder ${folder} could not be created or written (${message}); pass a path you can write to`, { cause: error });
  } finally {
    await removeEmptyFolders(created.reverse());
  }
}

/** Returns the folders from just below `existing` down to `folder`, outermost first. */
function missingLevels(folder: string, existing: string): string[] {
  const levels: string[] = [];
  for (let path = resolve(folder); path !== resolve(existing) && dirname(path) !== path; path = dirname(path)) {
    levels.unshift(path);
  }
  return levels;
}

/** Removes each of `folders` in order, and stops at the first that is no longer empty. */
async function removeEmptyFolders(folders: readonly string[]): Promise<void> {
  for (const folder of folders) {
    try {
      await rmdir(folder);
    } catch {
      // A folder that another process wrote into meanwhile is not empty, so it and its parents stay.
      return;
    }
  }
}

type PathKind = { kind: 'folder' | 'other' | 'missing' } | { kind: 'unreadable'; message: string };

async function statKind(path: string): Promise<PathKind> {
  try {
    return { kind: (await stat(path)).isDirectory() ? 'folder' : 'other' };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // ENOTDIR: a file lies on the path, and the caller's loop reaches it in a later step.
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return { kind: 'missing' };
    }
    return { kind: 'unreadable', message: error instanceof Error ? error.message : String(error) };
  }
}
