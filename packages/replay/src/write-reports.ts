import { constants, Stats } from 'node:fs';
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { describeError, REPLAY_ERROR_CODES, ReplayError } from './errors';
import { renderMarkdown } from './report-markdown';
import type { ReplayReport } from './report-schema';
import { renderMetricsByK, renderMetricsOverTime } from './report-svg';
import type { ReplayTimings } from './timings';

/** File names of a replay's outputs inside the output folder. */
export const REPORT_FILES = {
  report: 'report.json',
  timings: 'timings.json',
  markdown: 'report.md',
  byK: 'metrics-by-k.svg',
  overTime: 'metrics-over-time.svg',
} as const;

/**
 * Writes the report, the timings, the Markdown page and both charts into `directory`, creating it.
 * Returns the paths written.
 *
 * @throws ReplayError `REPLAY_ERR_UNWRITABLE_OUTPUT` naming the folder when it cannot be written
 */
export async function writeReports(directory: string, report: ReplayReport, timings: ReplayTimings): Promise<string[]> {
  const files: Array<[string, string]> = [
    [REPORT_FILES.report, `${JSON.stringify(report, null, 2)}\n`],
    [REPORT_FILES.timings, `${JSON.stringify(timings, null, 2)}\n`],
    [REPORT_FILES.markdown, renderMarkdown(report, timings, { byK: REPORT_FILES.byK, overTime: REPORT_FILES.overTime })],
    [REPORT_FILES.byK, renderMetricsByK(report)],
    [REPORT_FILES.overTime, renderMetricsOverTime(report)],
  ];
  await prepareOutputDirectory(directory);
  try {
    for (const [name, text] of files) {
      await writeFile(join(directory, name), text);
    }
  } catch (error) {
    throw new ReplayError(REPLAY_ERROR_CODES.unwritableOutput, `--out ${directory} could not be written: ${describeError(error)}`, { cause: error });
  }
  return files.map(([name]) => join(directory, name));
}

/**
 * Creates `directory` when missing and checks that it can be written, so that a replay fails
 * before it runs, not after, when its reports would have nowhere to go.
 *
 * @throws ReplayError `REPLAY_ERR_UNWRITABLE_OUTPUT` naming the folder when it cannot be written
 */
export async function prepareOutputDirectory(directory: string): Promise<void> {
  try {
    await createFolder(directory);
    await access(directory, constants.W_OK);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const file = code === 'EEXIST' || code === 'ENOTDIR' ? await findFileOnPath(directory) : undefined;
    if (file === directory) {
      throw new ReplayError(REPLAY_ERROR_CODES.unwritableOutput, `--out ${directory} is a file, not a folder; pass a folder for the reports, such as reports/replay`, { cause: error });
    }
    if (file !== undefined) {
      throw new ReplayError(REPLAY_ERROR_CODES.unwritableOutput, `--out ${directory} is inside ${file}, which is a file, not a folder; pass a folder for the reports, such as reports/replay`, {
        cause: error,
      });
    }
    throw new ReplayError(REPLAY_ERROR_CODES.unwritableOutput, `--out ${directory} could not be written: ${describeError(error)}`, { cause: error });
  }
}

/**
 * Creates `directory` and its missing parents one at a time. Under /proc, creating a folder fails
 * with ENOENT although its parent exists, and Node 20's recursive `mkdir` then never returns. Here
 * that failure is raised.
 */
async function createFolder(directory: string): Promise<void> {
  const missing: string[] = [];
  for (let path = resolve(directory); ; path = dirname(path)) {
    const found = await stat(path).catch((error: unknown) => ((error as { code?: unknown }).code === 'ENOENT' ? undefined : error));
    if (found instanceof Stats && !found.isDirectory()) {
      // As mkdir reports it, so that the caller names the file.
      throw Object.assign(new Error(`${path} exists and is not a folder`), { code: 'EEXIST' });
    }
    if (found !== undefined || dirname(path) === path) {
      break;
    }
    missing.push(path);
  }
  for (const folder of missing.reverse()) {
    await mkdir(folder).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 'EEXIST') {
        throw error;
      }
    });
  }
}

/** Returns `directory`, or the nearest of its parents, that exists and is not a folder; undefined when the nearest existing one is a folder. */
async function findFileOnPath(directory: string): Promise<string | undefined> {
  for (let path = directory; ; path = dirname(path)) {
    const found = await stat(path).catch(() => undefined);
    if (found !== undefined) {
      return found.isDirectory() ? undefined : path;
    }
    if (dirname(path) === path) {
      return undefined;
    }
  }
}
