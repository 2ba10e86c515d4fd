import { Writable } from 'node:stream';
import { createLogger } from '@nexttap/observability';

/** Returns a logger at level info that keeps the lines it writes, each parsed from JSON. */
export function capturingLogger(service: string) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', service }, destination), lines };
}
