import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = new URL('../bin/nexttap.js', import.meta.url).pathname;

/** Returns this process's environment without Kafka or Redis settings, with `extra` added. */
function commandEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('KAFKA_') && !name.startsWith('REDIS_'));
  return { ...Object.fromEntries(inherited), ...extra };
}

/** Runs the nexttap command with no Kafka or Redis settings and returns its exit code and output. */
function nexttap(args: string[], options: { cwd?: string } = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], { env: commandEnvironment(), encoding: 'utf8', timeout: 30_000, ...options });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the nexttap command without blocking this process, so that listeners of the test can accept its connections. */
function nexttapAsync(args: string[], environment: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: commandEnvironment(environment), encoding: 'utf8', timeout: 30_000 }, (_error, stdout, stderr) => {
      resolve({ code: child.exitCode, stdout, stderr });
    });
  });
}

/**
 * Starts a TCP listener on loopback in place of a Kafka broker. It counts connections and closes
 * each one, so a test can show that a command made none.
 */
async function startBrokerStandIn(): Promise<{ address: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nexttap-main-'));
});

describe('nexttap command line', () => {
  it('names the missing setting of import in one line', () => {
    const result = nexttap(['import', 'movielens']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('nexttap: KAFKA_BROKERS is not set');
  });

  it('states the maximum of an import count', () => {
    const result = nexttap(['import', 'movielens', '--limit', '99999999999999999999']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--limit 99999999999999999999 is invalid; pass a whole number from 0 to 9007199254740991');
  });

  it('prints the usage for serve --help', () => {
    const result = nexttap(['serve', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('usage: nexttap serve [--role ingest|ranker|all]');
  });

  it('prints the usage for import --help', () => {
    const result = nexttap(['import', 'movielens', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('usage: nexttap import movielens');
    expect(result.stdout).toContain('--end-ago-ms MS');
  });

  it('names the missing dataset of import', () => {
    const result = nexttap(['import']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nexttap: import needs a dataset; use: nexttap import movielens');
  });

  it('rejects an import count in hexadecimal', () => {
    const result = nexttap(['import', 'movielens', '--limit', '0x10']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--limit 0x10 is invalid; pass a whole number from 0 to 9007199254740991');
  });

  it('names a flag of import that lacks its value', () => {
    const result = nexttap(['import', 'movielens', '--limit']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nexttap: --limit needs a number of ratings, such as --limit 20000');
  });

  it('rejects a repeated flag of import', () => {
    const result = nexttap(['import', 'movielens', '--limit', '10', '--limit', '20']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nexttap: --limit is repeated (10, then 20); it takes one value, so pass it once');
  });

  it('names an unknown flag of serve', () => {
    const result = nexttap(['serve', '--port', '8080']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nexttap: --port is not a flag of nexttap serve; run nexttap serve --help for the flags');
  });

  it('rejects an argument of serve', () => {
    const result = nexttap(['serve', 'ranker']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nexttap: unexpected argument ranker; serve takes only --role');
  });

  it('rejects a repeated role', () => {
    const result = nexttap(['serve', '--role', 'ranker', '--role', 'ingest']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nexttap: --role is repeated (ranker, then ingest)');
  });

  it('names a flag of models that lacks its value', () => {
    const result = nexttap(['models', 'list', '--models-dir']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nexttap: --models-dir needs a folder, such as --models-dir models');
  });

  it('rejects an extra argument of import', () => {
    const result = nexttap(['import', 'movielens', 'extra']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('nexttap: unexpected argument extra; import takes one dataset, movielens, and flags such as --dir DIR\n');
  });

  it('runs train from another folder', () => {
    const result = nexttap(['train', '--help'], { cwd: directory });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: npx nexttap train [options]');
  });

  it('prints its version', () => {
    const result = nexttap(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^nexttap \d+\.\d+\.\d+\n$/);
  });
});

describe('nexttap usage errors', () => {
  const cases: Array<{ args: string[]; message: string }> = [
    { args: ['serve', '--role', 'foo'], message: 'nexttap: --role foo is not a role; use one of ingest, ranker, all' },
    { args: ['import', 'movielens', '--limit', 'abc'], message: 'nexttap: --limit abc is invalid; pass a whole number from 0 to 9007199254740991' },
    { args: ['serve', '--port', '8080'], message: 'nexttap: --port is not a flag of nexttap serve; run nexttap serve --help for the flags' },
    { args: ['foo'], message: 'nexttap: foo is not a command; run nexttap --help for the commands' },
  ];
  for (const { args, message } of cases) {
    it(`prints one line for ${args.join(' ')}`, () => {
      const result = nexttap(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`${message}\n`);
      expect(result.stdout).toBe('');
    });
  }

  it('prints the usage to stderr without a command', () => {
    const result = nexttap([]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('usage: nexttap <command> [options]');
  });

  it('prints the usage to stdout for --help', () => {
    const result = nexttap(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('usage: nexttap <command> [options]');
  });
});

describe('nexttap import folder', () => {
  const fix = 'pass --dir with the folder that contains movies.csv and ratings.csv';

  it('names a --dir that is a file', async () => {
    const file = join(directory, 'a-file');
    await writeFile(file, '');
    const result = nexttap(['import', 'movielens', '--dir', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap: --dir ${file} is a file, not a folder; ${fix}\n`);
  });

  it('names a --dir that does not exist', () => {
    const result = nexttap(['import', 'movielens', '--dir', '/nonexistent/movielens']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap: --dir /nonexistent/movielens does not exist; ${fix}\n`);
  });

  it('names the default --dir when it does not exist', () => {
    const result = nexttap(['import', 'movielens'], { cwd: directory });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap: --dir data/movielens (the default) does not exist; ${fix}\n`);
  });

  it('names a movies.csv that is a folder', async () => {
    const folder = join(directory, 'movies-folder');
    await mkdir(join(folder, 'movies.csv'), { recursive: true });
    await writeFile(join(folder, 'ratings.csv'), '');
    const result = nexttap(['import', 'movielens', '--dir', folder]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap: ${join(folder, 'movies.csv')} of --dir ${folder} is a folder, not a file; replace it with the MovieLens movies.csv, or ${fix}\n`);
  });

  it('names a missing ratings.csv', async () => {
    const folder = join(directory, 'no-ratings');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'movies.csv'), 'movieId,title,genres\n');
    const result = nexttap(['import', 'movielens', '--dir', folder]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap: --dir ${folder} has no ratings.csv; ${fix}\n`);
  });

  it('checks the folder before Kafka', async () => {
    const broker = await startBrokerStandIn();
    try {
      const result = await nexttapAsync(['import', 'movielens', '--dir', '/nonexistent/movielens'], { KAFKA_BROKERS: broker.address });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`nexttap: --dir /nonexistent/movielens does not exist; ${fix}\n`);
      // No log line of a Kafka client, which the import creates only after the files are read.
      expect(result.stdout).toBe('');
      expect(broker.connections()).toBe(0);
    } finally {
      await broker.close();
    }
  });

  it('names the line of a malformed CSV file', async () => {
    const folder = join(directory, 'malformed');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'movies.csv'), 'movieId,title\n1,Toy Story (1995)\n');
    await writeFile(join(folder, 'ratings.csv'), 'userId,movieId,rating,timestamp\n');
    const broker = await startBrokerStandIn();
    try {
      const result = await nexttapAsync(['import', 'movielens', '--dir', folder], { KAFKA_BROKERS: broker.address });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`nexttap: ${join(folder, 'movies.csv')}:1: header is movieId,title; expected movieId,title,genres\n`);
      expect(result.stdout).toBe('');
      expect(broker.connections()).toBe(0);
    } finally {
      await broker.close();
    }
  });
});
