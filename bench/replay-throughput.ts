import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readMovieLensInput, loadModels, runReplay } from '@nexttap/replay';

const MODEL_DIR = new URL('../models/movielens-mlp/1', import.meta.url).pathname;
const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
/** Argument that makes this file print one measurement as JSON, for the pinned child process. */
const ROW_FLAG = '--row';

interface ReplayMeasurement {
  events: number;
  points: number;
  rankers: string;
  seconds: number;
  cpuSeconds: number;
  msPerPoint: number;
}

/**
 * Replays the whole bundled MovieLens log with the bundled model and the four default baselines,
 * as `nexttap replay --dataset movielens` does. The time covers the replay itself (feature writes,
 * candidate reads, scoring and the bootstrap intervals), not reading the CSV files or loading the
 * model. CPU seconds are the process's user and system time over the same span: on a shared
 * machine they vary less than wall-clock seconds.
 */
async function measureReplay(): Promise<ReplayMeasurement> {
  const input = await readMovieLensInput(MOVIELENS_DIR);
  const models = await loadModels([MODEL_DIR]);
  try {
    const startedNs = process.hrtime.bigint();
    const startedCpu = process.cpuUsage();
    const { report, timings } = await runReplay({ input, models, seed: 7 });
    const cpu = process.cpuUsage(startedCpu);
    return {
      events: input.events.length,
      points: report.counts.evaluationPoints,
      rankers: report.rankers.map((ranker) => ranker.name).join(', '),
      seconds: Number(process.hrtime.bigint() - startedNs) / 1e9,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      msPerPoint: (timings.candidates.meanMs.value ?? 0) + timings.rankers.reduce((total, ranker) => total + (ranker.meanMs.value ?? 0), 0),
    };
  } finally {
    await Promise.all(models.map((model) => model.release()));
  }
}

/**
 * Runs the measurement in a child process pinned to the machine's last core with `taskset`, the
 * setting of the replay target ("on one core"): V8's garbage collector threads then share that
 * core with the replay. Returns undefined when `taskset` (util-linux) is missing.
 */
function measurePinned(): { core: number; measurement: ReplayMeasurement } | undefined {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const core = cpus().length - 1;
  const child = spawnSync('taskset', ['-c', String(core), process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), ROW_FLAG], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) {
    throw new Error(`the pinned replay exited with ${child.status ?? child.signal}`);
  }
  return { core, measurement: JSON.parse(child.stdout) as ReplayMeasurement };
}

function tableRow(label: string, measurement: ReplayMeasurement): string {
  const { events, points, rankers, seconds, cpuSeconds, msPerPoint } = measurement;
  return `| ${label} | ${events} | ${points} | ${rankers} | ${seconds.toFixed(1)} | ${cpuSeconds.toFixed(1)} | ${Math.round(events / seconds)} | ${msPerPoint.toFixed(2)} |`;
}

/**
 * Returns a Markdown table of the replay throughput: one run in this process, on every core, and
 * one in a child process pinned to one core.
 */
export async function benchReplayThroughput(): Promise<string> {
  const unpinned = await measureReplay();
  const pinned = measurePinned();
  return [
    '| replay | events | evaluated points | rankers | seconds | CPU seconds | events/s | ms per point (candidates + all rankers) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    tableRow('MovieLens, full protocol', unpinned),
    pinned === undefined ? '| MovieLens, pinned to one core | taskset not found: install util-linux | | | | | | |' : tableRow(`MovieLens, pinned to core ${pinned.core} (taskset)`, pinned.measurement),
  ].join('\n');
}

// Run on its own (`npx tsx bench/replay-throughput.ts`), the file prints its table; `bench/run.ts`
// imports it with the other benchmarks. With `--row` it prints one measurement as JSON.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes(ROW_FLAG)) {
    process.stdout.write(JSON.stringify(await measureReplay()));
  } else {
    console.log(await benchReplayThroughput());
  }
  process.exit(0);
}
