import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { MOVIES_FILE, RATINGS_FILE } from '@nexttap/movielens';

/** The folder flag of a command that reads the MovieLens CSV files, with its value. */
export interface MovieLensFolderFlag {
  /** The flag, such as `--dir`. */
  flag: string;
  directory: string;
  /** True when the command line did not pass the flag and the directory is its default. */
  isDefault: boolean;
}

/**
 * Checks that the folder of a MovieLens flag exists and contains `movies.csv` and `ratings.csv` as
 * files. Returns what is wrong as one sentence that names the flag, the path and the fix, or
 * undefined when both files are there. It reads no file, so it is cheap to run before a command
 * connects to anything.
 */
export async function findMovieLensFolderProblem({ flag, directory, isDefault }: MovieLensFolderFlag): Promise<string | undefined> {
  const named = `${flag} ${directory}${isDefault ? ' (the default)' : ''}`;
  const fix = `pass ${flag} with the folder that contains ${MOVIES_FILE} and ${RATINGS_FILE}`;
  const folder = await statPath(directory);
  if (!folder.ok) {
    return `${named} ${describeStatError(folder)}; ${fix}`;
  }
  if (!folder.stats.isDirectory()) {
    return `${named} is a file, not a folder; ${fix}`;
  }
  for (const name of [MOVIES_FILE, RATINGS_FILE]) {
    const path = join(directory, name);
    const file = await statPath(path);
    if (!file.ok) {
      return file.code === 'ENOENT' ? `${named} has no ${name}; ${fix}` : `${path} of ${named} ${describeStatError(file)}; ${fix}`;
    }
    if (!file.stats.isFile()) {
      const kind = file.stats.isDirectory() ? 'a folder, not a file' : 'not a regular file';
      return `${path} of ${named} is ${kind}; replace it with the MovieLens ${name}, or ${fix}`;
    }
  }
  return undefined;
}

type StatResult = { ok: true; stats: Stats } | { ok: false; code: string; message: string };

/** Returns the stats of `path`, or the error code and message of the failed stat call. */
async function statPath(path: string): Promise<StatResult> {
  try {
    return { ok: true, stats: await stat(path) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { ok: false, code: typeof code === 'string' ? code : 'unknown', message: error instanceof Error ? error.message : String(error) };
  }
}

function describeStatError(error: { code: string; message: string }): string {
  // ENOTDIR: a folder on the path is a file.
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
    return 'does not exist';
  }
  return `could not be read (${error.message})`;
}
