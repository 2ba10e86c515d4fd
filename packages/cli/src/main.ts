import { readFileSync } from 'node:fs';
import { parsePlainInteger } from '@nexttap/http/plain-decimal';
import { CsvError } from '@nexttap/movielens';
import { ConfigError, ImportInputError } from './cli-errors';
import { FlagError, parseFlags } from './command-flags';
import type { Role } from './server';

// Each command loads its own module when it runs, because a replay on the in-memory store needs
// neither the HTTP server nor the Kafka and Redis clients. Loading them all made `replay --help`
// take 0.68 s instead of 0.37 s on a 2-core machine.

const USAGE = `usage: nexttap <command> [options]

commands:
  serve --role ingest|ranker|all   run a server role (default all); settings come from the environment
  import movielens [--dir DIR] [--limit N] [--end-ago-ms MS]
                                   produce the MovieLens catalog and ratings to Kafka (KAFKA_BROKERS)
  replay --dataset movielens|--events FILE|--topic NAME [options]
                                   evaluate models and baselines on an event log; replay --help lists the options
  models validate|list|activate|rollback [options]
                                   check a model, list the registry, or switch a running ranker's model; models --help
  train [options]                  train the MovieLens MLP, or export its feature rows as CSV; train --help lists the options
  --version                        print the version of nexttap
  --help                           print this help
`;

const SERVE_USAGE = `usage: nexttap serve [--role ingest|ranker|all]

Runs one server role (default all: ingest, ranker and the demo page in one process). Settings come
from the environment: PORT, HOST, KAFKA_BROKERS, REDIS_URL and the others in docs/configuration.md.
Without KAFKA_BROKERS and REDIS_URL the process uses its in-process bus and in-memory store.
`;

/** The MovieLens folder of `import` when `--dir` is not given, relative to the current folder. */
const DEFAULT_IMPORT_DIR = 'data/movielens';

const IMPORT_USAGE = `usage: nexttap import movielens [--dir DIR] [--limit N] [--end-ago-ms MS]

Produces the MovieLens catalog and ratings to the Kafka topics of KAFKA_BROKERS. It checks and
reads movies.csv and ratings.csv before it connects to Kafka.
  --dir DIR          folder of the MovieLens CSV files (default ${DEFAULT_IMPORT_DIR})
  --limit N          only the earliest N ratings
  --end-ago-ms MS    shift the ratings in time so the last one is MS milliseconds ago; the
                     ratings keep their spacing, so most stay years old
Ingest dead-letters events older than its MAX_EVENT_LATENESS_MS (default 1 day) as EVENT_TOO_LATE;
import warns on stderr when it produces such events and names the setting that accepts them all.
`;

const ROLES: readonly Role[] = ['ingest', 'ranker', 'all'];

const SERVE_VALUE_EXAMPLES = { role: 'a role, such as --role ranker' };

const IMPORT_VALUE_EXAMPLES = {
  dir: 'a folder, such as --dir data/movielens',
  limit: 'a number of ratings, such as --limit 20000',
  'end-ago-ms': 'a number of milliseconds, such as --end-ago-ms 60000',
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values, positionals } = parseFlags('serve', rest, { role: { type: 'string', default: 'all' }, help: { type: 'boolean', short: 'h' } }, SERVE_VALUE_EXAMPLES);
      if (values.help === true) {
        process.stdout.write(SERVE_USAGE);
        return;
      }
      if (positionals.length > 0) {
        fail(`unexpected argument ${positionals[0] ?? ''}; serve takes only --role, and settings come from the environment`);
      }
      const role = values.role as Role;
      if (!ROLES.includes(role)) {
        fail(`--role ${values.role} is not a role; use one of ${ROLES.join(', ')}`);
      }
      const { runServer } = await import('./run-server');
      await runServer(role);
      return;
    }
    case 'import': {
      const { values, positionals } = parseFlags(
        'import',
        rest,
        {
          dir: { type: 'string' },
          limit: { type: 'string' },
          'end-ago-ms': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        IMPORT_VALUE_EXAMPLES,
      );
      if (values.help === true) {
        process.stdout.write(IMPORT_USAGE);
        return;
      }
      if (positionals[0] === undefined) {
        fail('import needs a dataset; use: nexttap import movielens');
      }
      if (positionals[0] !== 'movielens') {
        fail(`import ${positionals[0]} is not a known dataset; use: nexttap import movielens`);
      }
      if (positionals.length > 1) {
        fail(`unexpected argument ${positionals[1] ?? ''}; import takes one dataset, movielens, and flags such as --dir DIR`);
      }
      const { importMovieLens } = await import('./import-command');
      const result = await importMovieLens({
        directory: values.dir ?? DEFAULT_IMPORT_DIR,
        directoryIsDefault: values.dir === undefined,
        ...(values.limit === undefined ? {} : { limit: parseCount('--limit', values.limit) }),
        ...(values['end-ago-ms'] === undefined ? {} : { endAgoMs: parseCount('--end-ago-ms', values['end-ago-ms']) }),
        onWarning: (message) => process.stderr.write(`nexttap: warning: ${message}\n`),
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    case 'replay': {
      const { runReplayCommand } = await import('./replay-command');
      process.exitCode = await runReplayCommand(rest, { stdout: process.stdout, stderr: process.stderr, environment: process.env });
      return;
    }
    case 'models': {
      const { runModelsCommand } = await import('./models-command');
      process.exitCode = await runModelsCommand(rest, { stdout: process.stdout, stderr: process.stderr, environment: process.env });
      return;
    }
    case 'train': {
      const { runTrainCommand } = await import('./models-command');
      process.exitCode = await runTrainCommand(rest);
      return;
    }
    case '--version':
    case '-V':
    case 'version':
      process.stdout.write(`nexttap ${packageVersion()}\n`);
      return;
    case undefined:
      // A missing command is a usage error, so the usage goes to stderr with exit code 2.
      process.stderr.write(USAGE);
      process.exitCode = 2;
      return;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      fail(`${command} is not a command; run nexttap --help for the commands`);
  }
}

/** Returns the `version` field of the package.json of the command. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

function parseCount(option: string, text: string): number {
  // Plain digits only, as the settings read them: Number() would also take `0x10`, `1e3` and ` 5`.
  const value = parsePlainInteger(text);
  if (value === undefined || !Number.isSafeInteger(value) || value < 0) {
    fail(`${option} ${text} is invalid; pass a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`);
  }
  return value;
}

/** Prints a usage error as one line and exits with code 2. The message names the fix or the help to run. */
function fail(message: string): never {
  process.stderr.write(`nexttap: ${message}\n`);
  process.exit(2);
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  // An unknown, repeated or malformed flag.
  if (error instanceof FlagError) {
    fail(error.message);
  }
  const code = (error as { code?: unknown }).code;
  // An invalid setting or a missing file is the user's to fix, so one line names it, without a stack trace.
  if (error instanceof ConfigError) {
    process.stderr.write(`nexttap: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof ImportInputError || error instanceof CsvError) {
    process.stderr.write(`nexttap: ${error.message}\n`);
    process.exit(1);
  }
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    process.stderr.write(`nexttap: ${(error as Error).message}\n`);
    process.exit(1);
  }
  throw error;
}
