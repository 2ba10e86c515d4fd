import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeLinearModel } from '@nexttap/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { runReplayCommand } from '../src/replay-command';
import { REPLAY_FLAGS, REPLAY_USAGE } from '../src/replay-flags';

/** Captures what one command run writes. */
function captureIo() {
  const output = { stdout: '', stderr: '' };
  return {
    output,
    io: {
      stdout: { write: (text: string) => (output.stdout += text) },
      stderr: { write: (text: string) => (output.stderr += text), isTTY: false },
      environment: {},
    },
  };
}

async function run(args: string[]) {
  const { output, io } = captureIo();
  const code = await runReplayCommand(args, io);
  return { code, ...output };
}

let directory: string;
let eventsFile: string;
let catalogFile: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nexttap-replay-cli-'));
  const start = Date.UTC(2024, 0, 1);
  const lines = [
    { eventId: 'e1', type: 'like', ts: start, sessionId: 'a', itemId: 'A' },
    { eventId: 'e2', type: 'like', ts: start + 1_000, sessionId: 'b', itemId: 'A' },
    { eventId: 'e3', type: 'skip', ts: start + 2_000, sessionId: 'c', itemId: 'C' },
    { eventId: 'e4', type: 'like', ts: start + 3_000, sessionId: 'c', itemId: 'A' },
    { eventId: 'e5', type: 'play', ts: 'not a time', sessionId: 'c', itemId: 'B' },
  ];
  eventsFile = join(directory, 'events.jsonl.gz');
  await writeFile(eventsFile, gzipSync(lines.map((line) => JSON.stringify(line)).join('\n')));
  catalogFile = join(directory, 'catalog.jsonl');
  await writeFile(catalogFile, ['A', 'B', 'C'].map((itemId) => JSON.stringify({ itemId, categories: ['x'], publishedAt: '2023-01-01T00:00:00Z' })).join('\n'));
});

describe('nexttap replay errors', () => {
  const cases: Array<{ name: string; args: string[]; code: number; mentions: string }> = [
    { name: 'an unknown flag', args: ['--dataset', 'movielens', '--bogus'], code: 2, mentions: '--bogus' },
    { name: 'a flag without its value', args: ['--dataset'], code: 2, mentions: '--dataset' },
    { name: 'a count without its value', args: ['--dataset', 'movielens', '--limit'], code: 2, mentions: '--limit needs a number of events, such as --limit 20000' },
    { name: 'a count followed by a flag', args: ['--dataset', 'movielens', '--limit', '--no-model'], code: 2, mentions: '--limit needs a number of events' },
    { name: 'a switch with a value', args: ['--dataset', 'movielens', '--no-model=yes'], code: 2, mentions: '--no-model takes no value' },
    { name: 'a repeated one-value flag', args: ['--dataset', 'movielens', '--seed', '1', '--seed', '2'], code: 2, mentions: '--seed is repeated (1, then 2); it takes one value, so pass it once' },
    { name: 'a repeated source', args: ['--dataset', 'movielens', '--dataset', 'movielens'], code: 2, mentions: '--dataset is repeated' },
    { name: 'an unknown model among repeated --model', args: ['--dataset', 'movielens', '--model', 'no-such-model', '--model', 'other-model'], code: 1, mentions: 'no-such-model' },
    { name: 'a bad K list', args: ['--dataset', 'movielens', '--k', '5,x'], code: 2, mentions: '--k x' },
    { name: 'a negative count', args: ['--dataset', 'movielens', '--bootstrap', '-1'], code: 2, mentions: '--bootstrap -1 is negative; pass a number of resamples, such as --bootstrap 1000' },
    { name: 'a negative limit', args: ['--dataset', 'movielens', '--limit', '-5'], code: 2, mentions: '--limit -5 is negative; pass a number of events, such as --limit 20000' },
    { name: 'a cutoff that is no time', args: ['--dataset', 'movielens', '--cutoff', 'yesterday'], code: 2, mentions: '; pass a date-time such as' },
    { name: 'a bad protocol', args: ['--dataset', 'movielens', '--protocol', 'half'], code: 2, mentions: '--protocol half' },
    { name: 'repeated cut-offs', args: ['--dataset', 'movielens', '--k', '5,5'], code: 2, mentions: '--k 5,5 is invalid' },
    { name: 'negatives without sampling', args: ['--dataset', 'movielens', '--negatives', '5'], code: 2, mentions: '--negatives applies to --protocol sampled only' },
    { name: 'an unknown baseline', args: ['--dataset', 'movielens', '--baselines', 'popular,magic'], code: 2, mentions: '--baselines magic' },
    { name: 'a bad cutoff time', args: ['--dataset', 'movielens', '--cutoff', 'yesterday'], code: 2, mentions: '--cutoff' },
    { name: 'no source', args: [], code: 2, mentions: '--dataset movielens' },
    { name: 'two sources', args: ['--dataset', 'movielens', '--events', 'x.jsonl'], code: 2, mentions: 'exactly one source' },
    { name: 'an unknown dataset', args: ['--dataset', 'netflix'], code: 2, mentions: '--dataset netflix' },
    { name: 'a missing events file', args: ['--events', '/nonexistent/events.jsonl'], code: 1, mentions: '--events /nonexistent/events.jsonl does not exist; pass a JSON Lines file of interactions' },
    { name: 'a folder as the events file', args: ['--events', '/tmp'], code: 1, mentions: '--events /tmp is not a file; pass a JSON Lines file of interactions' },
    { name: 'a missing MovieLens folder', args: ['--dataset', 'movielens', '--data-dir', '/nonexistent/movielens', '--no-model'], code: 1, mentions: '/nonexistent/movielens' },
    { name: 'an unknown model', args: ['--dataset', 'movielens', '--model', 'no-such-model'], code: 1, mentions: 'no-such-model' },
    { name: 'a Kafka offset with a dataset', args: ['--dataset', 'movielens', '--from-offset', '5'], code: 2, mentions: '--from-offset applies to --topic only' },
    { name: 'a Kafka time with an events log', args: ['--events', 'x.jsonl', '--to-time', '2024-01-01T00:00:00Z'], code: 2, mentions: '--to-time applies to --topic only' },
    { name: 'brokers with an events log', args: ['--events', 'x.jsonl', '--kafka-brokers', '127.0.0.1:9092'], code: 2, mentions: '--kafka-brokers applies to --topic only' },
    { name: 'a catalog topic with a dataset', args: ['--dataset', 'movielens', '--catalog-topic', 'items'], code: 2, mentions: '--catalog-topic applies to --topic only' },
    { name: 'a catalog file with a topic', args: ['--topic', 't', '--catalog', 'c.jsonl'], code: 2, mentions: '--catalog applies to --events only' },
    { name: 'a MovieLens limit with a topic', args: ['--topic', 't', '--limit', '5'], code: 2, mentions: '--limit applies to --dataset only' },
    { name: 'a data folder with an events log', args: ['--events', 'x.jsonl', '--data-dir', 'data'], code: 2, mentions: '--data-dir applies to --dataset only' },
    { name: 'a topic without brokers', args: ['--topic', 'interactions', '--no-model'], code: 2, mentions: '--kafka-brokers is missing and KAFKA_BROKERS is not set' },
    { name: 'an empty broker list', args: ['--topic', 'interactions', '--kafka-brokers', '', '--no-model'], code: 2, mentions: '--kafka-brokers is empty' },
    { name: 'a seed above 32 bits', args: ['--dataset', 'movielens', '--seed', '4294967296'], code: 2, mentions: '--seed 4294967296 is invalid; pass a whole number from 0 to 4294967295' },
    { name: 'a seed beyond a double', args: ['--dataset', 'movielens', '--seed', '99999999999999999999'], code: 2, mentions: 'from 0 to 4294967295' },
    { name: 'too few bootstrap resamples', args: ['--dataset', 'movielens', '--bootstrap', '10'], code: 2, mentions: '--bootstrap 10 is invalid; pass a whole number from 100 to' },
    { name: 'too few resamples to compare', args: ['--compare', 'a.json', 'b.json', '--bootstrap', '1'], code: 2, mentions: '--bootstrap 1 is invalid; pass a whole number from 100 to' },
    { name: 'a K above the ranking depth', args: ['--dataset', 'movielens', '--k', '5,201'], code: 2, mentions: '--k 201 is invalid; pass a whole number from 1 to 200, the depth of the ranking' },
    { name: 'a huge K', args: ['--dataset', 'movielens', '--k', '50000'], code: 2, mentions: '--k 50000 is invalid; pass a whole number from 1 to 200' },
    { name: 'a K of 0', args: ['--dataset', 'movielens', '--k', '0'], code: 2, mentions: '--k 0 is invalid; pass a whole number from 1 to 200' },
    { name: 'a negative K', args: ['--dataset', 'movielens', '--k', '-1'], code: 2, mentions: '--k -1 is invalid; pass a whole number from 1 to 200' },
    { name: 'an empty K list', args: ['--dataset', 'movielens', '--k', ''], code: 2, mentions: 'nexttap replay: --k is empty; pass comma-separated values' },
    { name: 'a count beyond a double', args: ['--dataset', 'movielens', '--bootstrap', '99999999999999999999'], code: 2, mentions: 'from 100 to 100000' },
    { name: 'too many bootstrap resamples', args: ['--dataset', 'movielens', '--bootstrap', '100001'], code: 2, mentions: '--bootstrap 100001 is invalid; pass a whole number from 100 to 100000' },
    { name: 'a compare with one report', args: ['--compare', 'a.json'], code: 2, mentions: '--compare' },
    { name: 'a missing report to compare', args: ['--compare', '/nonexistent/a.json', '/nonexistent/b.json'], code: 1, mentions: '/nonexistent/a.json' },
    { name: 'a dataset with --compare', args: ['--compare', 'a.json', 'b.json', '--dataset', 'movielens'], code: 2, mentions: '--dataset does not apply to --compare, which reads two reports and takes only --seed and --bootstrap; leave it out' },
    { name: 'an output folder with --compare', args: ['--compare', 'a.json', 'b.json', '--out', 'reports'], code: 2, mentions: '--out does not apply to --compare' },
    { name: 'a default-valued flag with --compare', args: ['--compare', 'a.json', 'b.json', '--k', '5,10,20'], code: 2, mentions: '--k does not apply to --compare' },
    { name: 'two unused flags with --compare', args: ['--compare', 'a.json', 'b.json', '--dataset', 'movielens', '--no-model'], code: 2, mentions: '--dataset, --no-model do not apply to --compare' },
    { name: 'a models folder without --model', args: ['--dataset', 'movielens', '--models-dir', '/nonexistent'], code: 2, mentions: '--models-dir /nonexistent applies to --model only' },
    { name: 'a models folder with --no-model', args: ['--dataset', 'movielens', '--no-model', '--models-dir', 'models'], code: 2, mentions: '--models-dir models applies to --model only' },
    { name: 'a malformed model reference', args: ['--dataset', 'movielens', '--model', 'a@1@2'], code: 2, mentions: '--model a@1@2 is invalid; pass NAME or NAME@VERSION' },
    { name: 'a missing models folder', args: ['--dataset', 'movielens', '--model', 'movielens-mlp', '--models-dir', '/nonexistent/models'], code: 1, mentions: '--models-dir /nonexistent/models does not exist; pass the folder that contains the model folders NAME/VERSION' },
  ];
  it('rejects a log without a valid event with one line', async () => {
    const invalidFile = join(directory, 'invalid.jsonl');
    await writeFile(invalidFile, '{"eventId":"e1"}\nnot json\n');
    const result = await run(['--events', invalidFile, '--no-model', '--out', join(directory, 'invalid-out')]);
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n').filter((line) => line !== '')).toHaveLength(1);
    expect(result.stderr).toContain('no valid event to replay (2 rejected');
    expect(result.stderr).toContain(`${invalidFile}:1`);
    expect(result.stdout).toBe('');
  });

  it('names an id with surrounding whitespace in a log', async () => {
    const whitespaceFile = join(directory, 'whitespace-ids.jsonl');
    const start = Date.UTC(2024, 0, 1);
    const lines = [
      { eventId: 'e1', type: 'like', ts: start, sessionId: '42 ', itemId: 'A' },
      { eventId: 'e2', type: 'like', ts: start + 1_000, sessionId: '42', itemId: ' 7' },
    ];
    await writeFile(whitespaceFile, lines.map((line) => JSON.stringify(line)).join('\n'));

    const result = await run(['--events', whitespaceFile, '--no-model', '--out', join(directory, 'whitespace-out')]);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `nexttap replay: the input has no valid event to replay (2 rejected: EVENT_INVALID_FIELD 2; first at ${whitespaceFile}:1: ` +
        'EVENT_INVALID_FIELD sessionId ends with whitespace (" "); send the id without the surrounding whitespace (received "42 ")); check the file or topic\n',
    );
    expect(result.stdout).toBe('');
  });

  for (const { name, args, code, mentions } of cases) {
    it(`rejects ${name} with one line`, async () => {
      const result = await run(args);
      expect(result.code).toBe(code);
      expect(result.stderr.split('\n').filter((line) => line !== '')).toHaveLength(1);
      expect(result.stderr).toContain(mentions);
      expect(result.stdout).toBe('');
    });
  }
});

/** Writes interactions as a JSON Lines file in the test folder and returns its path. */
async function writeEvents(name: string, lines: readonly object[]): Promise<string> {
  const file = join(directory, name);
  await writeFile(file, lines.map((line) => JSON.stringify(line)).join('\n'));
  return file;
}

/** Returns the lines written to stderr other than progress lines. */
function messageLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !line.startsWith('replay '));
}

describe('nexttap replay --models-dir', () => {
  it('names a --models-dir that is a file', async () => {
    const file = join(directory, 'models-file');
    await writeFile(file, '');
    const result = await run(['--dataset', 'movielens', '--model', 'movielens-mlp', '--models-dir', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap replay: --models-dir ${file} is a file, not a folder; pass the folder that contains the model folders NAME/VERSION, such as --models-dir models\n`);
  });

  it('names a missing model version as not found', async () => {
    const models = join(directory, 'models-without-nope');
    await mkdir(join(models, 'other', '1'), { recursive: true });
    const result = await run(['--dataset', 'movielens', '--model', 'nope@1', '--models-dir', models]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `nexttap replay: --model nope@1 not found: folder ${join(models, 'nope', '1')} does not exist; list the models with nexttap models list --models-dir ${models}\n`,
    );
  });

  it('names a missing model without a version as not found', async () => {
    const models = join(directory, 'models-without-versions');
    await mkdir(join(models, 'empty'), { recursive: true });
    const missing = await run(['--dataset', 'movielens', '--model', 'nope', '--models-dir', models]);
    const empty = await run(['--dataset', 'movielens', '--model', 'empty', '--models-dir', models]);
    expect(missing.stderr).toBe(`nexttap replay: --model nope not found: folder ${join(models, 'nope')} does not exist; list the models with nexttap models list --models-dir ${models}\n`);
    expect(empty.stderr).toBe(`nexttap replay: --model empty not found: folder ${join(models, 'empty')} has no version folders; list the models with nexttap models list --models-dir ${models}\n`);
  });

  it('takes the highest numeric version for a name alone', async () => {
    const models = join(directory, 'numbered-models');
    for (const version of ['2', '9', '10']) {
      await writeLinearModel(join(models, 'linear', version), { item_popularity_week: 1 }, { name: 'linear', version });
    }
    const out = join(directory, 'numbered-out');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--models-dir', models, '--model', 'linear', '--out', out]);
    expect(result.code).toBe(0);
    expect(await readFile(join(out, 'report.json'), 'utf8')).toContain('"linear@10"');
    expect(REPLAY_USAGE).toMatch(/NAME alone takes the highest\s+version folder/);
  });

  it('rejects a manifest that names another version than its folder', async () => {
    const models = join(directory, 'mismatched-models');
    await writeLinearModel(join(models, 'linear', '3'), { item_popularity_week: 1 }, { name: 'linear', version: '2' });
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--models-dir', models, '--model', 'linear@3', '--out', join(directory, 'mismatched-out')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `nexttap replay: --model linear@3: the manifest in ${join(models, 'linear', '3')} names linear@2, not linear@3; make the manifest's name and version match the folder names\n`,
    );
  });
});

describe('nexttap replay --compare settings', () => {
  /** Replays the test log with `flags` into a folder named `name` and returns its report.json. */
  async function replayInto(name: string, flags: string[]): Promise<string> {
    const out = join(directory, name);
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--pool-refresh-events', '1', ...flags, '--out', out]);
    expect(result.code).toBe(0);
    return join(out, 'report.json');
  }

  it('rejects different protocols', async () => {
    const full = await replayInto('settings-full', []);
    const sampled = await replayInto('settings-sampled', ['--protocol', 'sampled']);
    const result = await run(['--compare', full, sampled]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap replay: ${full} and ${sampled} used different protocols (A full, B sampled); compare reports of the same --protocol\n`);
    expect(result.stdout).toBe('');
  });

  it('rejects different negatives', async () => {
    const few = await replayInto('settings-negatives-1', ['--protocol', 'sampled', '--negatives', '1']);
    const more = await replayInto('settings-negatives-2', ['--protocol', 'sampled', '--negatives', '2']);
    const result = await run(['--compare', few, more]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap replay: ${few} and ${more} used different negatives (A 1, B 2); compare reports of the same --negatives\n`);
    expect(result.stdout).toBe('');
  });

  it('compares every K of either report', async () => {
    const k1 = await replayInto('settings-k-1', ['--k', '1', '--baselines', 'popular']);
    const k2 = await replayInto('settings-k-2', ['--k', '2', '--baselines', 'popular']);
    const result = await run(['--compare', k1, k2]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('| popular | popular | HitRate@1 |');
    expect(result.stdout).toContain('| popular | popular | HitRate@2 |');
    expect(result.stdout).toContain('| popular | popular | NDCG@2 |');
  });

  it('warns about different seeds', async () => {
    const seed1 = await replayInto('settings-seed-1', ['--seed', '1']);
    const seed2 = await replayInto('settings-seed-2', ['--seed', '2']);
    const result = await run(['--compare', seed1, seed2]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("nexttap replay: the reports used different seeds (A 1, B 2), so random choices such as the random baseline and the model's exploration slot differ between them\n");
    expect(result.stdout).toContain('paired bootstrap');
  });
});

describe('nexttap replay --compare flags', () => {
  it('accepts --seed and --bootstrap', async () => {
    const out = join(directory, 'compare-flags');
    await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--pool-refresh-events', '1', '--out', out]);
    const report = join(out, 'report.json');
    const result = await run(['--compare', report, report, '--seed', '3', '--bootstrap', '200']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('200 resamples');
  });
});

describe('nexttap replay --data-dir', () => {
  const fix = 'pass --data-dir with the folder that contains movies.csv and ratings.csv';

  it('names a --data-dir that is a file', async () => {
    const file = join(directory, 'data-dir-file');
    await writeFile(file, '');
    const result = await run(['--dataset', 'movielens', '--no-model', '--data-dir', file, '--out', join(directory, 'data-dir-file-out')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap replay: --data-dir ${file} is a file, not a folder; ${fix}\n`);
  });

  it('names a movies.csv that is a folder', async () => {
    const folder = join(directory, 'movies-folder');
    await mkdir(join(folder, 'movies.csv'), { recursive: true });
    await writeFile(join(folder, 'ratings.csv'), '');
    const result = await run(['--dataset', 'movielens', '--no-model', '--data-dir', folder, '--out', join(directory, 'movies-folder-out')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap replay: ${join(folder, 'movies.csv')} of --data-dir ${folder} is a folder, not a file; replace it with the MovieLens movies.csv, or ${fix}\n`);
  });
});

describe('nexttap replay --out', () => {
  it('names an --out that is a file', async () => {
    const file = join(directory, 'a-file');
    await writeFile(file, '');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--out', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap replay: --out ${file} is a file, not a folder; pass a folder for the reports, such as reports/replay\n`);
  });

  it('names the file on the path of --out', async () => {
    const file = join(directory, 'a-file-on-the-path');
    await writeFile(file, '');
    const out = join(file, 'reports');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`--out ${out} is inside ${file}, which is a file, not a folder`);
    // No progress line: the run did not start.
    expect(result.stderr).not.toContain('events (100%)');
  });
});

describe.runIf(existsSync('/proc/self'))('nexttap replay --out under /proc', () => {
  // Node 20's recursive mkdir never returns there, because creating the folder fails with ENOENT.
  it('fails instead of hanging', async () => {
    const out = '/proc/nexttap-replay-test/reports';
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^nexttap replay: --out \/proc\/nexttap-replay-test\/reports could not be written: .*ENOENT/);
  }, 10_000);
});

describe('nexttap replay without a point', () => {
  it('names a cutoff after the last event', async () => {
    const out = join(directory, 'late-cutoff');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--cutoff', '2030-01-01T00:00:00Z', '--out', out]);
    expect(result.code).toBe(0);
    const lines = messageLines(result.stderr);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('no point was evaluated: evaluation starts at 2030-01-01T00:00:00.000Z (the cutoff option), after the last event at 2024-01-01T00:00:03.000Z');
    expect(lines[1]).toContain('pass an earlier --cutoff, within the log\'s span from 2024-01-01T00:00:00.000Z to 2024-01-01T00:00:03.000Z');
  });

  it('names a --limit that ends before the training cut-off', async () => {
    const data = join(directory, 'small-movielens');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'movies.csv'), 'movieId,title,genres\n1,Heat (1995),Action|Crime\n2,Fargo (1996),Crime|Drama\n');
    // Epoch seconds 820454400 is 1996-01-01T00:00:00Z.
    await writeFile(join(data, 'ratings.csv'), 'userId,movieId,rating,timestamp\n1,1,4.0,820454400\n1,2,5.0,820454460\n2,1,3.0,820454520\n');
    const models = join(directory, 'models-with-cutoff');
    await writeLinearModel(join(models, 'linear', '1'), { item_popularity_week: 1 }, { training: { dataset: 'test', description: 'late cut-off', cutoffMs: Date.parse('2017-06-21T00:00:00Z') } });
    const out = join(directory, 'early-limit');
    const result = await run(['--dataset', 'movielens', '--data-dir', data, '--limit', '2', '--model', 'linear@1', '--models-dir', models, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(': 0 points, because no event comes at or after that time (the last is at 1996-01-01T00:01:00.000Z).\n');
    const lines = messageLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('no point was evaluated: evaluation starts at 2017-06-21T00:00:00.000Z (training cut-off of linear@1), after the last event at 1996-01-01T00:01:00.000Z');
    expect(lines[0]).toContain('--limit 2 keeps the earliest 2 ratings, which end at 1996-01-01T00:01:00.000Z, so leave --limit out or raise it until the ratings reach past 2017-06-21T00:00:00.000Z');
    expect(lines[0]).toContain('or evaluate the baselines alone with --no-model --cutoff TIME');
  });

  it('names a lone event as the first of its session', async () => {
    const events = await writeEvents('lone-event.jsonl', [{ eventId: 'e1', type: 'like', ts: '2024-05-01T10:40:00Z', sessionId: 's1', itemId: 'A' }]);
    const result = await run(['--events', events, '--catalog', catalogFile, '--no-model', '--cutoff', '2024-05-01T00:00:00Z', '--out', join(directory, 'lone-event')]);
    expect(result.code).toBe(0);
    const lines = messageLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('no point was evaluated: 1 target event from 2024-05-01T00:00:00.000Z (the cutoff option), but it is the first event of its session');
    expect(lines[0]).toContain('replay a log whose sessions have more than one event');
    expect(lines[0]).not.toContain('--cutoff');
  });

  it('names the absence of target events after the cutoff', async () => {
    const events = await writeEvents('skips-after-cutoff.jsonl', [
      { eventId: 'e1', type: 'like', ts: '2024-05-01T10:00:00Z', sessionId: 's1', itemId: 'A' },
      { eventId: 'e2', type: 'skip', ts: '2024-05-01T11:00:00Z', sessionId: 's1', itemId: 'B' },
    ]);
    const result = await run(['--events', events, '--catalog', catalogFile, '--no-model', '--cutoff', '2024-05-01T10:30:00Z', '--out', join(directory, 'skips-after-cutoff')]);
    expect(result.code).toBe(0);
    const lines = messageLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('no point was evaluated: no target event (tap, play, complete, like) from 2024-05-01T10:30:00.000Z (the cutoff option)');
    expect(lines[0]).toContain('pass an earlier --cutoff');
  });

  it('names first events and engaged items', async () => {
    const events = await writeEvents('repeat-like.jsonl', [
      { eventId: 'e1', type: 'like', ts: '2024-05-01T10:00:00Z', sessionId: 's1', itemId: 'A' },
      { eventId: 'e2', type: 'like', ts: '2024-05-01T10:01:00Z', sessionId: 's1', itemId: 'A' },
    ]);
    const result = await run(['--events', events, '--catalog', catalogFile, '--no-model', '--out', join(directory, 'repeat-like')]);
    expect(result.code).toBe(0);
    const lines = messageLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('2 target events in the log, but 1 is the first event of its session and 1 is on an item that the session or user had engaged with before');
    expect(lines[0]).toContain('a point needs a target item that is new to its session and user');
  });
});

describe('nexttap replay --protocol sampled', () => {
  it('reports a mean below --negatives', async () => {
    const out = join(directory, 'sampled-short');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--protocol', 'sampled', '--pool-refresh-events', '1', '--out', out]);
    expect(result.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    // The one point, session c's like of A, has B, the only other item known then that c has not engaged with.
    expect(report.candidates.meanNegatives).toBe(1);
    const protocol = 'Protocol: sampled: the target among a mean of 1.0 seeded negatives per point (100 requested; fewer items were available).';
    expect(result.stdout).toContain(protocol);
    expect(result.stdout).not.toContain('among 100');
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain(protocol);
    const lines = messageLines(result.stderr);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe(
      'nexttap replay: the sampled protocol drew a mean of 1.0 negatives per point, fewer than the 100 of --negatives, because fewer items were known that the session and user had not engaged with; metrics over fewer negatives read higher, so compare only runs with the same mean, pass a smaller --negatives, or replay a log with more items',
    );
  });

  it('states --negatives when every point had them', async () => {
    const out = join(directory, 'sampled-full');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--protocol', 'sampled', '--negatives', '1', '--pool-refresh-events', '1', '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Protocol: sampled: the target among 1 seeded negative per point.');
    expect(result.stderr).not.toContain('fewer than');
  });
});

describe('nexttap replay summary', () => {
  it('counts events as report.json does', async () => {
    const events = await writeEvents('duplicate.jsonl', [
      { eventId: 'e1', type: 'like', ts: '2024-05-01T10:00:00Z', sessionId: 's1', itemId: 'A' },
      { eventId: 'e2', type: 'like', ts: '2024-05-01T10:01:00Z', sessionId: 's1', itemId: 'B' },
      { eventId: 'e2', type: 'like', ts: '2024-05-01T10:01:00Z', sessionId: 's1', itemId: 'B' },
    ]);
    const catalog = join(directory, 'one-item.jsonl');
    await writeFile(catalog, JSON.stringify({ itemId: 'A', categories: [] }));
    const out = join(directory, 'duplicate');
    const result = await run(['--events', events, '--catalog', catalog, '--no-model', '--protocol', 'sampled', '--out', out]);
    expect(result.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.counts.events).toBe(3);
    expect(report.counts.duplicateEvents).toBe(1);
    expect(report.counts.evaluationPoints).toBe(1);
    expect(result.stdout).toContain(`JSON Lines (${events}): 3 events (1 duplicate of an earlier event's sessionId and eventId, not applied), 1 catalog item.`);
    expect(result.stdout).toContain(': 1 point.');
    expect(result.stderr).toContain('1 point evaluated');
  });
});

describe('nexttap replay report.md', () => {
  it('states the rejected input records', async () => {
    const out = join(directory, 'markdown-rejected');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--out', out]);
    expect(result.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.counts.rejectedRecords).toBe(1);
    const markdown = await readFile(join(out, 'report.md'), 'utf8');
    expect(markdown).toContain(`\n1 input record was rejected as invalid and left out (EVENT_INVALID_FIELD 1). The first is at ${eventsFile}:5: EVENT_INVALID_FIELD `);
  });

  it('states that no input record was rejected', async () => {
    const events = await writeEvents('all-valid.jsonl', [{ eventId: 'e1', type: 'like', ts: '2024-05-01T10:00:00Z', sessionId: 's1', itemId: 'A' }]);
    const out = join(directory, 'markdown-valid');
    const result = await run(['--events', events, '--catalog', catalogFile, '--no-model', '--out', out]);
    expect(result.code).toBe(0);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain('\nNo input record was rejected as invalid.\n');
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.rejected).toEqual({ count: 0, byCode: {} });
  });
});

describe('nexttap replay rejected records', () => {
  const start = Date.UTC(2024, 0, 1);
  const valid = [
    { eventId: 'e1', type: 'like', ts: start, sessionId: 'a', itemId: 'A' },
    { eventId: 'e2', type: 'like', ts: start + 1_000, sessionId: 'a', itemId: 'B' },
  ];

  /** Writes the valid events followed by `count` lines with an invalid `dwellMs`, and returns the file. */
  async function writeWithInvalid(name: string, count: number): Promise<string> {
    const invalid = Array.from({ length: count }, (_, index) => ({ eventId: `x${index}`, type: 'play', ts: start + 2_000, sessionId: 'b', itemId: 'C', dwellMs: -1 }));
    return writeEvents(name, [...valid, ...invalid]);
  }

  it('lists each rejected line in report.json', async () => {
    const events = join(directory, 'ten-invalid.jsonl');
    await writeFile(events, [...valid.map((line) => JSON.stringify(line)), '{not json', ...Array.from({ length: 9 }, (_, index) => JSON.stringify({ eventId: `x${index}`, type: 'play', ts: start, sessionId: 'b', itemId: 'C', dwellMs: -1 }))].join('\n'));
    const out = join(directory, 'ten-invalid');
    const result = await run(['--events', events, '--catalog', catalogFile, '--no-model', '--out', out]);
    expect(result.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.rejected.count).toBe(10);
    expect(report.rejected.listLimit).toBe(100);
    expect(report.rejected.records).toHaveLength(10);
    expect(report.rejected.records[0]).toMatchObject({ location: `${events}:3`, code: 'EVENT_INVALID_JSON' });
    expect(report.rejected.records[0].field).toBeUndefined();
    const locations = report.rejected.records.map((record: { location: string }) => record.location);
    expect(locations).toEqual(Array.from({ length: 10 }, (_, index) => `${events}:${index + 3}`));
    expect(report.rejected.records[9]).toMatchObject({ code: 'EVENT_INVALID_FIELD', field: 'dwellMs' });
    expect(report.rejected.first).toEqual({ location: `${events}:3`, code: 'EVENT_INVALID_JSON', message: report.rejected.records[0].message });
  });

  it('points stderr to the listed records', async () => {
    const events = await writeWithInvalid('three-invalid.jsonl', 3);
    const out = join(directory, 'three-invalid');
    const result = await run(['--events', events, '--catalog', catalogFile, '--no-model', '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`; ${join(out, 'report.json')} lists all 3 under rejected.records, each with its location, code and field\n`);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain(' report.json lists all 3 under rejected.records.\n');
  });

  it('lists at most 100 rejected records', async () => {
    const events = await writeWithInvalid('many-invalid.jsonl', 105);
    const out = join(directory, 'many-invalid');
    const result = await run(['--events', events, '--catalog', catalogFile, '--no-model', '--out', out]);
    expect(result.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.rejected.count).toBe(105);
    expect(report.rejected.records).toHaveLength(100);
    expect(report.rejected.records[99].location).toBe(`${events}:102`);
    expect(result.stderr).toContain(`${join(out, 'report.json')} lists the first 100 under rejected.records`);
  });
});

describe('nexttap replay without catalog records', () => {
  const line =
    '2 events name items without a catalog record. They update the features, but the full protocol drops such items from the candidates, so a point on one of them is a miss for every ranker (1 point in this run).';

  it('counts events on uncataloged items', async () => {
    // Z has no record in the catalog file, which lists A, B and C.
    const events = await writeEvents('uncataloged.jsonl', [
      { eventId: 'e1', type: 'like', ts: '2024-05-01T10:00:00Z', sessionId: 's1', itemId: 'A' },
      { eventId: 'e2', type: 'like', ts: '2024-05-01T10:01:00Z', sessionId: 's1', itemId: 'Z' },
      { eventId: 'e3', type: 'skip', ts: '2024-05-01T10:02:00Z', sessionId: 's2', itemId: 'Z' },
      { eventId: 'e4', type: 'like', ts: '2024-05-01T10:03:00Z', sessionId: 's2', itemId: 'B' },
    ]);
    const out = join(directory, 'uncataloged');
    const result = await run(['--events', events, '--catalog', catalogFile, '--no-model', '--baselines', 'popular', '--pool-refresh-events', '1', '--out', out]);
    expect(result.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.counts.eventsWithoutCatalogRecord).toBe(2);
    expect(report.counts.pointsWithoutCatalogRecord).toBe(1);
    expect(report.counts.evaluationPoints).toBe(2);
    // The point on Z has rank 0 for popular, because candidate generation drops Z.
    expect(report.evaluations.ranks.popular[0]).toBe(0);
    expect(result.stdout).toContain(line);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain(line);
  });
});

describe('nexttap replay', () => {
  it('lists every flag in its help', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    // --compare starts the second usage line; every other flag has a line of its own.
    for (const flag of Object.keys(REPLAY_FLAGS).filter((name) => name !== 'compare')) {
      expect(result.stdout, `--${flag}`).toMatch(new RegExp(`^  --${flag}\\b`, 'm'));
    }
    expect(result.stdout).toContain('  --data-dir DIR               with --dataset: the folder of the MovieLens CSV files');
  });

  it('says in its help that time ranges are untested', async () => {
    const result = await run(['--help']);
    expect(result.stdout).toContain('The tests check --from-time and --to-time only for their errors');
    expect(result.stdout).toContain('Check source.partitions in report.json');
  });

  it('accepts --catalog twice', async () => {
    const out = join(directory, 'two-catalogs');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--catalog', catalogFile, '--no-model', '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('4 events, 3 catalog items.');
  });

  it('reads the brokers from KAFKA_BROKERS', async () => {
    // An invalid list shows that the variable is read, without connecting to a broker.
    const { output, io } = captureIo();
    const code = await runReplayCommand(['--topic', 'interactions', '--no-model'], { ...io, environment: { KAFKA_BROKERS: '127.0.0.1:1,' } });
    expect(code).toBe(2);
    expect(output.stderr).toContain('KAFKA_BROKERS 127.0.0.1:1, has an empty entry');
  });

  it('rejects a full replay without a catalog', async () => {
    const result = await run(['--events', eventsFile, '--no-model', '--out', join(directory, 'no-catalog')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no catalog record');
    expect(result.stderr).toContain('generated candidates, which come from catalog records');
    expect(result.stderr).toContain('pass --catalog FILE.jsonl');
    expect(result.stderr).toContain('--protocol sampled');
    expect(result.stdout).toBe('');
  });

  it('rejects a catalog without a valid record', async () => {
    const catalog = join(directory, 'invalid-catalog.jsonl');
    await writeFile(catalog, '{"itemId":"A"}\n');
    const result = await run(['--events', eventsFile, '--catalog', catalog, '--no-model', '--out', join(directory, 'invalid-catalog')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no catalog record (2 rejected');
    expect(result.stderr).toContain('check that the --catalog files have valid catalog records');
    expect(result.stdout).toBe('');
  });

  it('replays a sampled protocol without a catalog', async () => {
    const out = join(directory, 'sampled-no-catalog');
    const result = await run(['--events', eventsFile, '--no-model', '--protocol', 'sampled', '--negatives', '1', '--pool-refresh-events', '1', '--out', out]);
    expect(result.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.counts.evaluationPoints).toBe(1);
  });

  it('replays a gzip JSON Lines log and writes the reports', async () => {
    const out = join(directory, 'out');
    const result = await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--k', '1,2', '--pool-refresh-events', '1', '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`skipped invalid records (1 rejected: EVENT_INVALID_FIELD 1; first at ${eventsFile}:5`);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    expect(report.counts.evaluationPoints).toBe(1);
    expect(report.rejected.count).toBe(1);
    expect(report.rejected.first.location).toBe(`${eventsFile}:5`);
    expect(await readFile(join(out, 'metrics-by-k.svg'), 'utf8')).toContain('<svg');
    expect(result.stdout).toContain('| popular |');
    expect(result.stdout).toContain('4 events, 3 catalog items.');
  });

  it('compares two reports with a paired bootstrap', async () => {
    const out = join(directory, 'compare');
    await run(['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--pool-refresh-events', '1', '--out', out]);
    const report = join(out, 'report.json');
    const result = await run(['--compare', report, report]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('paired bootstrap');
    expect(result.stdout).toMatch(/\| popular \| popular \| HitRate@5 \| .* \| 0\.0000 \| .* \| 1\.000 \| no \|/);
    expect(result.stdout).not.toContain('Not compared');
    // One report has the four default baselines, and each pair is compared on 3 HitRate, 3 NDCG and MRR.
    expect(result.stdout).toContain('\n28 differences tested. At p < 0.05 about 1 in 20 differences without a real effect comes out significant by chance');
  });

  it('names the rankers a comparison leaves out', async () => {
    const outA = join(directory, 'compare-a');
    const outB = join(directory, 'compare-b');
    const common = ['--events', eventsFile, '--catalog', catalogFile, '--no-model', '--pool-refresh-events', '1'];
    await run([...common, '--baselines', 'popular,random', '--out', outA]);
    await run([...common, '--baselines', 'popular,trending', '--out', outB]);
    const result = await run(['--compare', join(outA, 'report.json'), join(outB, 'report.json')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Not compared, for want of a counterpart in the other report: random (only in A), trending (only in B).');
  });
});
