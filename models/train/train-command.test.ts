import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistry } from '@nexttap/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrainOptions, TrainUsageError } from './train-options';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/nexttap.js', import.meta.url));
const DATA_DIR = fileURLToPath(new URL('../../data/movielens', import.meta.url));
/** Ratings kept in the small data folder: the first 3,000 replay in about a second. */
const RATING_LINES = 3_000;

let directory: string;
let smallData: string;

/** Runs `nexttap train` and returns its exit code and output. */
function nexttapTrain(args: string[]) {
  const result = spawnSync(process.execPath, [BIN, 'train', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Returns the non-empty lines of `text`. */
function linesOf(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nexttap-train-command-'));
  smallData = join(directory, 'small-movielens');
  await mkdir(smallData);
  await copyFile(join(DATA_DIR, 'movies.csv'), join(smallData, 'movies.csv'));
  const ratings = (await readFile(join(DATA_DIR, 'ratings.csv'), 'utf8')).split('\n');
  await writeFile(join(smallData, 'ratings.csv'), `${ratings.slice(0, RATING_LINES + 1).join('\n')}\n`);
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('parseTrainOptions', () => {
  const cases = [
    { name: 'a --version that differs from --out', args: ['--out', 'REG/movielens-mlp/5', '--version', '4'], message: '--version 4 does not match --out REG/movielens-mlp/5' },
    { name: 'an --out not named movielens-mlp', args: ['--out', 'REG/other/2'], message: '--out REG/other/2 is not a folder movielens-mlp/VERSION' },
    { name: 'an --out that ends in no version', args: ['--out', 'REG/movielens-mlp/.2'], message: '--out REG/movielens-mlp/.2 ends in ".2", which is not a valid version' },
    { name: 'a --version with a slash', args: ['--version', '2/3'], message: '--version "2/3" is invalid' },
    { name: 'a negative --max-anchors', args: ['--max-anchors', '-5'], message: '--max-anchors "-5" is invalid; pass an integer of at least 1' },
    { name: 'a --seed in hexadecimal', args: ['--seed', '0x10'], message: '--seed "0x10" is invalid; pass an integer of at least 0' },
    { name: 'a --version with --export-csv', args: ['--export-csv', 'REG/rows.csv', '--version', '2'], message: '--version does not apply to --export-csv' },
  ];
  for (const { name, args, message } of cases) {
    it(`rejects ${name}`, async () => {
      const registry = join(directory, 'unused');
      const parsing = parseTrainOptions(args.map((arg) => arg.replace('REG', registry)));

      await expect(parsing).rejects.toThrow(TrainUsageError);
      await expect(parsing).rejects.toThrow(message.replace('REG', registry));
    });
  }

  it('takes the version of --out when --version is missing', async () => {
    const options = await parseTrainOptions(['--out', join(directory, 'movielens-mlp', '2')]);

    expect(options?.version).toBe('2');
  });

  it('writes models/movielens-mlp/VERSION for --version alone', async () => {
    const options = await parseTrainOptions(['--version', '3']);

    expect(options?.outDir).toBe(resolve('models/movielens-mlp/3'));
    expect(options?.version).toBe('3');
  });

  it('names an --out under a regular file', async () => {
    const file = join(directory, 'regular-file');
    await writeFile(file, '');

    await expect(parseTrainOptions(['--out', join(file, 'movielens-mlp', '2')])).rejects.toThrow(`${file} is a file, so no folder can be created under it`);
  });

  it('names an --out that cannot be created', async () => {
    // Under /proc no folder can be created, although access(W_OK) passes there for root.
    const out = join('/proc', `nexttap-absent-${process.pid}`, 'movielens-mlp', '2');

    await expect(parseTrainOptions(['--out', out])).rejects.toThrow(`--out ${out}: the folder ${out} could not be created or written (`);
  });
});

describe('nexttap train', () => {
  it('rejects a --version that differs from --out in one line', () => {
    const registry = join(directory, 'mismatch');
    const result = nexttapTrain(['--max-anchors', '3000', '--out', join(registry, 'movielens-mlp', '5'), '--version', '4']);

    expect(result.code).toBe(2);
    expect(linesOf(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain('pass --version 5, or leave --version out');
    expect(existsSync(registry)).toBe(false);
  });

  it('names a missing --data folder in one line', () => {
    const result = nexttapTrain(['--data', '/nonexistent', '--out', join(directory, 'no-data', 'movielens-mlp', '1')]);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe('nexttap train: --data /nonexistent does not exist; pass --data with the folder that contains movies.csv and ratings.csv\n');
  });

  it('rejects anchors without validation rows before the fit', () => {
    const out = join(directory, 'no-validation', 'movielens-mlp', '1');
    // 15 anchors spread over the small data leave no validation anchor whose liked item was among the candidates.
    const result = nexttapTrain(['--data', smallData, '--max-anchors', '15', '--out', out]);
    const lines = linesOf(result.stderr);

    expect(result.code).toBe(2);
    expect(lines.at(-1)).toMatch(/^nexttap train: --max-anchors 15 leaves 2 training and 0 validation anchors .*; pass a larger --max-anchors/);
    expect(result.stderr).not.toContain('epoch 1');
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(directory, 'no-validation'))).toBe(false);
  });

  it('writes a model the registry loads', async () => {
    const registry = join(directory, 'registry');
    const result = nexttapTrain(['--data', smallData, '--max-anchors', '40', '--out', join(registry, 'movielens-mlp', '2')]);
    expect(result.code, result.stderr).toBe(0);

    const model = await new ModelRegistry(registry).load({ name: 'movielens-mlp', version: '2' });
    await model.release();

    expect(model.manifest.version).toBe('2');
  }, 60_000);
});
