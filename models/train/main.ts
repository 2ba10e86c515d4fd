/**
 * Trains the ranking model on MovieLens and writes `model.onnx` and `manifest.json`, the files the
 * ranker loads at start. Run it with `npm run train -- [options]`, where `USAGE` in
 * `train-options.ts` lists the options.
 */
import { CsvError } from '@nexttap/movielens';
import { parseTrainOptions, TrainRunError, TrainUsageError } from './train-options';

async function main(): Promise<void> {
  const cli = await parseTrainOptions(process.argv.slice(2));
  if (cli === undefined) {
    return;
  }
  const { runTraining } = await import('./run-training');
  await runTraining(cli);
}

main().catch((error: unknown) => {
  if (error instanceof TrainUsageError) {
    process.stderr.write(`nexttap train: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  if (error instanceof TrainRunError) {
    process.stderr.write(`nexttap train: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  // A failed system call names the path in its message, such as "ENOSPC: no space left on device, write 'x'".
  const isSystemError = error instanceof Error && typeof (error as { syscall?: unknown }).syscall === 'string';
  if (error instanceof CsvError || isSystemError) {
    process.stderr.write(`nexttap train: training failed: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  // Anything else is a bug, so the stack trace stays.
  process.stderr.write(`nexttap train: training failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
