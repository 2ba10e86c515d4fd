import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockKafka, uniqueName, type MockKafka } from '@nexttap/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = new URL('../bin/nexttap.js', import.meta.url).pathname;
const DAY_SECONDS = 86_400;

/** Runs `nexttap import movielens` with `args` against the mock cluster and returns its exit code and output. */
function runImport(args: string[], environment: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('KAFKA_') && !name.startsWith('REDIS_') && name !== 'MAX_EVENT_LATENESS_MS');
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, 'import', 'movielens', ...args],
      { env: { ...Object.fromEntries(inherited), LOG_LEVEL: 'silent', ...environment }, encoding: 'utf8', timeout: 60_000 },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

/** Writes a MovieLens folder with one movie rated by one user at each of `ratingTimesSeconds`. */
async function writeMovieLensFolder(ratingTimesSeconds: number[]): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'nexttap-import-'));
  await writeFile(join(folder, 'movies.csv'), 'movieId,title,genres\n1,Toy Story (1995),Animation|Comedy\n');
  const rows = ratingTimesSeconds.map((seconds, index) => `${index + 1},1,4.0,${seconds}`);
  await writeFile(join(folder, 'ratings.csv'), `userId,movieId,rating,timestamp\n${rows.join('\n')}\n`);
  return folder;
}

describe('nexttap import lateness warning', () => {
  let kafka: MockKafka;

  beforeAll(async () => {
    kafka = await startMockKafka({ brokers: 1 });
  }, 60_000);

  afterAll(async () => {
    await kafka?.stop();
  });

  it('names the late events and the accepting setting', async () => {
    // Ratings ten and five days before the last: shifted to end 60 s ago, those two are more than a day old.
    const lastSeconds = 1_000_000_000;
    const folder = await writeMovieLensFolder([lastSeconds - 10 * DAY_SECONDS, lastSeconds - 5 * DAY_SECONDS, lastSeconds]);
    const result = await runImport(['--dir', folder, '--end-ago-ms', '60000'], { KAFKA_BROKERS: kafka.brokers.join(','), TOPIC_PREFIX: uniqueName('import') });

    expect(result.code).toBe(0);
    expect(result.stdout).toBe('{"items":1,"events":3}\n');
    // Ten days and 60 s old, rounded up to 11 days, plus a day.
    expect(result.stderr).toBe(
      'nexttap: warning: 2 of 3 events are older than MAX_EVENT_LATENESS_MS=86400000, so an ingest with that setting ' +
        'dead-letters them as EVENT_TOO_LATE; run ingest with MAX_EVENT_LATENESS_MS=1036800000 to accept them all\n',
    );
  }, 60_000);
});
