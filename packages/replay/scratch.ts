import { loadRankingModel } from '@nexttap/model';
import { readMovieLensInput, runReplay, renderSummary } from '@nexttap/replay';

const limit = process.argv[2] ? Number(process.argv[2]) : undefined;
const t0 = performance.now();
const input = await readMovieLensInput('data/movielens', limit);
const t1 = performance.now();
const model = await loadRankingModel('models/movielens-mlp/1');
const result = await runReplay({ input, models: [model], seed: 7, onProgress: (p) => process.stderr.write(`${p.events}/${p.totalEvents} points=${p.points} ${Math.round(p.elapsedMs)}ms\n`) });
const t2 = performance.now();
process.stdout.write(renderSummary(result.report, result.timings));
process.stdout.write(`read ${Math.round(t1 - t0)} ms, replay+report ${Math.round(t2 - t1)} ms, replayMs ${Math.round(result.timings.replayMs)}\n`);
process.stdout.write(JSON.stringify(result.report.counts) + '\n' + JSON.stringify(result.timings) + '\n');
