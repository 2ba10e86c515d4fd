import { formatCount } from './format-count';
import type { ReplayProgress } from './replay-options';

/** The destination of progress lines: a writable stream, and whether it is a terminal. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * Creates a progress callback for `runReplay`. On a terminal it redraws one line with the events
 * per second and the time left, estimated from the rate so far. Elsewhere it writes a plain line
 * per call, for logs. `finish` ends the terminal line.
 */
export function createProgressPrinter(output: ProgressOutput): { onProgress: (progress: ReplayProgress) => void; finish: () => void } {
  let drawn = false;
  return {
    onProgress(progress) {
      const seconds = progress.elapsedMs / 1000;
      const rate = seconds > 0 ? progress.events / seconds : 0;
      const remaining = rate > 0 ? (progress.totalEvents - progress.events) / rate : 0;
      const percent = progress.totalEvents === 0 ? 100 : (100 * progress.events) / progress.totalEvents;
      const text =
        `replay ${progress.events.toLocaleString('en-US')}/${progress.totalEvents.toLocaleString('en-US')} events (${percent.toFixed(0)}%), ` +
        `${Math.round(rate).toLocaleString('en-US')} events/s, ${formatCount(progress.points, 'point')} evaluated`;
      if (output.isTTY === true) {
        output.write(`\r\u001b[2K${text}, ETA ${Math.ceil(remaining)} s`);
        drawn = true;
      } else {
        output.write(`${text}, ${seconds.toFixed(1)} s elapsed\n`);
      }
    },
    finish() {
      if (drawn) {
        output.write('\n');
        drawn = false;
      }
    },
  };
}
