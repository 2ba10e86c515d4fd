import { pathToFileURL } from 'node:url';
import { readMovieLensInput, loadModels, runReplay } from '@nexttap/replay';

const MODEL_DIR = new URL('../models/movielens-mlp/1', import.meta.url).pathname;
const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;

/**
 * Replays the whole bundled MovieLens log with the bundled model and the four default baselines,
 * as `nexttap replay --dataset movielens` does, and returns a Markdown table of the throughput.
 * The time covers the replay itself (feature writes, candidate reads, scoring and the bootstrap
 * intervals), not reading the CSV files or loading the model. CPU seconds are the process's user
 * and system time over the same span: on a shared machine they vary less than wall-clock seconds.
 */
export async function benchReplayThroughput(): Promise<string> {
  const input = await readMovieLensInput(MOVIELENS_DIR);
  const models = await loadModels([MODEL_DIR]);
  try {
    const startedNs = process.hrtime.bigint();
    const startedCpu = process.cpuUsage();
    const { report, timings } = await runReplay({ input, models, seed: 7 });
    const cpu = process.cpuUsage(startedCpu);
    const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const rankers = report.rankers.map((ranker) => ranker.name).join(', ');
    return [
      '| replay | events | evaluated points | rankers | seconds | CPU seconds | events/s | ms per point (candidates + all rankers) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      `| MovieLens, full protocol | ${input.events.length} | ${report.counts.evaluationPoints} | ${rankers} | ${seconds.toFixed(1)} | ${cpuSeconds.toFixed(1)} | ${Math.round(input.events.length / seconds)} | ${perPointMs(timings).toFixed(2)} |`,
    ].join('\n');
  } finally {
    await Promise.all(models.map((model) => model.release()));
  }
}

function perPointMs(timings: Awaited<ReturnType<typeof runReplay>>['timings']): number {
  return (timings.candidates.meanMs.value ?? 0) + timings.rankers.reduce((total, ranker) => total + (ranker.meanMs.value ?? 0), 0);
}

// Run on its own (`npx tsx bench/replay-throughput.ts`), the file prints its table; `bench/run.ts`
// imports it with the other benchmarks.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchReplayThroughput());
  process.exit(0);
}
