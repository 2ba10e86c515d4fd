import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { writeLinearModel } from '@nexttap/model';
import { createLogger, createMetricsRegistry } from '@nexttap/observability';
import { Ranker, rankerConfigSchema } from '@nexttap/ranker';
import { MemoryFeatureStore } from '@nexttap/store';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModelsCommand } from '../packages/cli/src/models-command';
import { resolveRankerUrl } from '../packages/cli/src/ranker-admin';

const TOKEN = 'cli-test-token-4d2a9b7c';
const logger = createLogger({ level: 'silent', service: 'models-cli-test' });

let root: string;
let ranker: Ranker;
let app: FastifyInstance;
let url: string;

/** Runs `nexttap models …` in process and returns its exit code and output. */
async function nexttapModels(argv: string[], environment: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: '', stderr: '' };
  stdout.on('data', (chunk: Buffer) => (chunks.stdout += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (chunks.stderr += chunk.toString()));
  const code = await runModelsCommand(argv, { stdout, stderr, environment: { MODELS_DIR: root, ...environment } });
  return { code, ...chunks };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nexttap-cli-models-'));
  await writeLinearModel(join(root, 'linear', '1'), { item_popularity_week: 1 });
  await writeLinearModel(join(root, 'linear', '2'), { item_popularity_week: 2 }, { version: '2' });
  await writeLinearModel(join(root, 'broken', '1'), { item_colour_match: 1 }, { name: 'broken' });
  const config = rankerConfigSchema.parse({ modelDir: join(root, 'linear', '1'), modelsDir: root, adminToken: TOKEN });
  ranker = new Ranker({ config, store: new MemoryFeatureStore({ sweepIntervalMs: 0 }), logger, metrics: createMetricsRegistry() });
  app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
  await ranker.register(app);
  await ranker.start();
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await ranker.stop();
  await rm(root, { recursive: true, force: true });
});

describe('nexttap models', () => {
  it('validates a folder and a registry version', async () => {
    const byFolder = await nexttapModels(['validate', join(root, 'linear', '2')]);
    expect(byFolder.code).toBe(0);
    expect(JSON.parse(byFolder.stdout)).toMatchObject({ valid: true, model: 'linear@2' });
    const byReference = await nexttapModels(['validate', 'linear@1']);
    expect(byReference.code).toBe(0);
  });

  it('rejects an invalid model with the reason', async () => {
    const result = await nexttapModels(['validate', 'broken@1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('item_colour_match');
  });

  it('names a model folder that does not exist', async () => {
    const result = await nexttapModels(['validate', join(root, 'absent', 'model')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`model folder ${join(root, 'absent', 'model')} not found`);
  });

  it('reads a relative path as a folder', async () => {
    const result = await nexttapModels(['validate', 'absent/model']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('model folder absent/model not found');
    expect(result.stderr).not.toContain('absent@model');
  });

  it('points a missing version to models list', async () => {
    const result = await nexttapModels(['validate', 'linear@9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`list the models with nexttap models list --models-dir ${root}\n`);
  });

  it('keeps --models-dir in the list suggestion', async () => {
    const other = await mkdtemp(join(tmpdir(), 'nexttap-cli-other-models-'));
    try {
      const result = await nexttapModels(['validate', 'linear@2', '--models-dir', other]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`nexttap: model linear@2 not found: ${join(other, 'linear', '2')} has no manifest.json; list the models with nexttap models list --models-dir ${other}\n`);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('keeps --models-dir in the folder suggestion', async () => {
    const result = await nexttapModels(['validate', 'absent/model', '--models-dir', root]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`or NAME@VERSION from nexttap models list --models-dir ${root}\n`);
  });

  it('lists the registry', async () => {
    const result = await nexttapModels(['list']);
    const lines = result.stdout.trim().split('\n');
    expect(lines.map((line) => line.split(' ')[0])).toEqual(['broken@1', 'linear@1', 'linear@2']);
    expect(lines.slice(1)).toEqual(['linear@1', 'linear@2']);
  });

  it('marks an invalid version in the list', async () => {
    const result = await nexttapModels(['list']);
    expect(result.code).toBe(0);
    const broken = result.stdout.split('\n')[0] ?? '';
    expect(broken).toMatch(/^broken@1 invalid: model .*broken.*: manifest features name item_colour_match/);
  });

  it('names a manifest that is a folder', async () => {
    const version = join(root, 'folder-manifest', '1');
    await mkdir(join(version, 'manifest.json'), { recursive: true });
    const expected = `nexttap: invalid model: model ${version}: ${join(version, 'manifest.json')} is a folder, not a file; replace it with the model's manifest.json\n`;
    const byFolder = await nexttapModels(['validate', version]);
    expect(byFolder.code).toBe(1);
    expect(byFolder.stderr).toBe(expected);
    const byReference = await nexttapModels(['validate', 'folder-manifest@1']);
    expect(byReference.code).toBe(1);
    expect(byReference.stderr).toBe(expected);
    await rm(join(root, 'folder-manifest'), { recursive: true });
  });

  it('rejects a missing models folder', async () => {
    const result = await nexttapModels(['list', '--models-dir', join(root, 'absent')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the models folder ${join(root, 'absent')} does not exist; pass --models-dir DIR or set MODELS_DIR`);
    expect(result.stdout).toBe('');
  });

  it('says when the folder has no model', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'nexttap-cli-empty-'));
    const result = await nexttapModels(['list', '--models-dir', empty]);
    await rm(empty, { recursive: true, force: true });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`no model in ${empty}`);
    expect(result.stdout).toBe('');
  });

  it('activates and rolls back on a running ranker', async () => {
    const activated = await nexttapModels(['activate', 'linear@2', '--url', url], { ADMIN_TOKEN: TOKEN });
    expect(activated.code, activated.stderr).toBe(0);
    expect(JSON.parse(activated.stdout)).toEqual({ active: 'linear@2', previous: 'linear@1', changed: true });
    expect(activated.stderr).toBe('');
    expect(ranker.currentModel?.manifest.version).toBe('2');

    const rolledBack = await nexttapModels(['rollback', '--url', url], { ADMIN_TOKEN: TOKEN });
    expect(rolledBack.code).toBe(0);
    expect(ranker.currentModel?.manifest.version).toBe('1');
  });

  it('warns on stderr while an experiment runs', async () => {
    const variants = [{ name: 'only', model: 'linear@1', weight: 1 }];
    const started = await app.inject({ method: 'POST', url: '/v1/admin/experiments', headers: { authorization: `Bearer ${TOKEN}` }, payload: { id: 'cli-split', variants } });
    expect(started.statusCode).toBe(200);
    try {
      const activated = await nexttapModels(['activate', 'linear@2', '--url', url], { ADMIN_TOKEN: TOKEN });
      expect(activated.code).toBe(0);
      expect(JSON.parse(activated.stdout)).toMatchObject({ active: 'linear@2', runningExperiment: 'cli-split' });
      expect(activated.stderr).toBe(
        'nexttap: warning: Experiment cli-split is running, so feeds keep following its variants until it is stopped with DELETE /v1/admin/experiments/cli-split; linear@2 serves the feeds only after that.\n',
      );
    } finally {
      await app.inject({ method: 'DELETE', url: '/v1/admin/experiments/cli-split', headers: { authorization: `Bearer ${TOKEN}` } });
      await nexttapModels(['rollback', '--url', url], { ADMIN_TOKEN: TOKEN });
    }
  });

  it('activates the highest version of a name', async () => {
    const activated = await nexttapModels(['activate', 'linear', '--url', url], { ADMIN_TOKEN: TOKEN });
    try {
      expect(activated.code, activated.stderr).toBe(0);
      expect(activated.stderr).toBe("nexttap: activating linear@2, the highest version of linear in the ranker's registry\n");
      expect(JSON.parse(activated.stdout)).toEqual({ active: 'linear@2', previous: 'linear@1', changed: true });
      expect(ranker.currentModel?.manifest.version).toBe('2');
    } finally {
      await nexttapModels(['rollback', '--url', url], { ADMIN_TOKEN: TOKEN });
    }
  });

  it('compares versions of a name as numbers', async () => {
    const folder = join(root, 'numbered');
    await writeLinearModel(join(folder, '9'), { item_popularity_week: 1 }, { name: 'numbered', version: '9' });
    await writeLinearModel(join(folder, '10'), { item_popularity_week: 1 }, { name: 'numbered', version: '10' });
    try {
      const activated = await nexttapModels(['activate', 'numbered', '--url', url], { ADMIN_TOKEN: TOKEN });
      expect(activated.code, activated.stderr).toBe(0);
      expect(JSON.parse(activated.stdout)).toMatchObject({ active: 'numbered@10' });
    } finally {
      await nexttapModels(['rollback', '--url', url], { ADMIN_TOKEN: TOKEN });
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('activates nothing when the highest version is invalid', async () => {
    const folder = join(root, 'half-broken');
    await writeLinearModel(join(folder, '1'), { item_popularity_week: 1 }, { name: 'half-broken', version: '1' });
    await writeLinearModel(join(folder, '2'), { item_colour_match: 1 }, { name: 'half-broken', version: '2' });
    try {
      const result = await nexttapModels(['activate', 'half-broken', '--url', url], { ADMIN_TOKEN: TOKEN });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^nexttap: half-broken@2, the highest version of half-broken, is invalid \(.*item_colour_match.*\), so nothing was activated; /);
      expect(result.stderr).toContain('such as nexttap models activate half-broken@1\n');
      expect(ranker.currentModel?.manifest.name).toBe('linear');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('names a model without versions', async () => {
    const result = await nexttapModels(['activate', 'absent', '--url', url], { ADMIN_TOKEN: TOKEN });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap: model absent not found: the registry of the ranker at ${url} has no version of it; GET /v1/admin/models on the ranker lists its registry\n`);
  });

  it('warns on stderr when the version is already live', async () => {
    const activated = await nexttapModels(['activate', 'linear@1', '--url', url], { ADMIN_TOKEN: TOKEN });
    expect(activated.code).toBe(0);
    expect(JSON.parse(activated.stdout)).toMatchObject({ active: 'linear@1', changed: false });
    expect(activated.stderr).toMatch(/^nexttap: warning: linear@1 is already live, so nothing changed/);
  });

  it('fails with a wrong token', async () => {
    const result = await nexttapModels(['activate', 'linear@2', '--url', url], { ADMIN_TOKEN: 'not-the-token-at-all' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('RANKER_ERR_UNAUTHORIZED');
  });

  it('asks for ADMIN_TOKEN when it is unset', async () => {
    const result = await nexttapModels(['activate', 'linear@2', '--url', url]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ADMIN_TOKEN is not set');
  });
});

describe('nexttap models usage errors', () => {
  const cases: Array<{ args: string[]; message: string }> = [
    { args: ['list', 'extra'], message: 'unexpected argument extra; models list takes no argument' },
    { args: ['validate', 'a', 'b'], message: 'unexpected argument b; models validate takes one model folder or NAME@VERSION' },
    { args: ['rollback', 'extra'], message: 'unexpected argument extra; models rollback takes no argument' },
    { args: ['activate', 'linear@2', 'linear@1'], message: 'unexpected argument linear@1; models activate takes one NAME@VERSION or NAME' },
    { args: ['list', '--url', 'http://127.0.0.1:8080'], message: '--url does not apply to models list; models list reads the models folder and takes only --models-dir DIR, so leave --url out' },
    {
      args: ['activate', 'linear@2', '--models-dir', 'models'],
      message: '--models-dir does not apply to models activate; models activate calls a running ranker, which uses its own MODELS_DIR, and takes only --url URL, so leave --models-dir out',
    },
    { args: ['remove'], message: 'models remove is not a subcommand; run nexttap models --help for the subcommands' },
    { args: ['toString'], message: 'models toString is not a subcommand; run nexttap models --help for the subcommands' },
    { args: ['validate'], message: 'models validate needs a model folder or NAME@VERSION, such as nexttap models validate movielens-mlp@1' },
  ];
  for (const { args, message } of cases) {
    it(`rejects models ${args.join(' ')} in one line`, async () => {
      const result = await nexttapModels(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`nexttap: ${message}\n`);
      expect(result.stdout).toBe('');
    });
  }

  it('prints the usage to stderr without a subcommand', async () => {
    const result = await nexttapModels([]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('usage: nexttap models <subcommand> [options]');
  });

  it('names a --models-dir that is a file', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, '');
    const result = await nexttapModels(['list', '--models-dir', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap: the models folder ${file} is a file, not a folder; pass --models-dir DIR or set MODELS_DIR\n`);
  });
});

describe('nexttap models ranker URL', () => {
  // The URLs name the ranker of this file or cannot be requested, so no request reaches another server.
  const cases: Array<{ name: string; args: () => string[]; environment: Record<string, string>; message: () => string }> = [
    {
      name: 'a URL with a path',
      args: () => ['rollback', '--url', `${url}/v1`],
      environment: { ADMIN_TOKEN: TOKEN },
      message: () => `--url ${url}/v1 has a path or query; pass only the ranker's origin, ${url}, because the command adds /v1/admin/models/... itself`,
    },
    {
      name: 'a URL with a query',
      args: () => ['rollback', '--url', `${url}?x=1`],
      environment: { ADMIN_TOKEN: TOKEN },
      message: () => `--url ${url}?x=1 has a path or query; pass only the ranker's origin, ${url}, because the command adds /v1/admin/models/... itself`,
    },
    {
      name: 'text that is no URL',
      args: () => ['rollback', '--url', '127.0.0.1:18310'],
      environment: { ADMIN_TOKEN: TOKEN },
      message: () => "--url 127.0.0.1:18310 is not a URL; pass the ranker's origin, such as --url http://127.0.0.1:8080",
    },
    {
      name: 'a URL of another scheme',
      args: () => ['rollback', '--url', 'ftp://127.0.0.1:18310'],
      environment: { ADMIN_TOKEN: TOKEN },
      message: () => "--url ftp://127.0.0.1:18310 is not an http or https URL; pass the ranker's origin, such as --url http://127.0.0.1:8080",
    },
    {
      name: 'a PORT that is no number',
      args: () => ['rollback'],
      environment: { ADMIN_TOKEN: TOKEN, PORT: 'abc' },
      message: () => 'PORT "abc" is not a port number; the ranker URL defaults to http://127.0.0.1:$PORT, so set PORT to the ranker\'s port (1 to 65535) or pass --url URL',
    },
  ];
  for (const { name, args, environment, message } of cases) {
    it(`rejects ${name}`, async () => {
      const result = await nexttapModels(args(), environment);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`nexttap: ${message()}\n`);
    });
  }

  // A blank PORT or PORT=0 would make a URL of port 80 or 0, so these cases call the resolver alone.
  for (const port of ['', '0', '65536', '8080x']) {
    it(`rejects PORT ${JSON.stringify(port)}`, () => {
      expect(resolveRankerUrl(undefined, { PORT: port })).toBe(
        `PORT ${JSON.stringify(port)} is not a port number; the ranker URL defaults to http://127.0.0.1:$PORT, so set PORT to the ranker's port (1 to 65535) or pass --url URL`,
      );
    });
  }

  it('defaults to port 8080', () => {
    expect(resolveRankerUrl(undefined, {})).toEqual(new URL('http://127.0.0.1:8080'));
  });

  it('reads the port of the default URL from PORT', async () => {
    const result = await nexttapModels(['activate', 'linear@9'], { ADMIN_TOKEN: TOKEN, PORT: new URL(url).port });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('RANKER_ERR_MODEL_NOT_FOUND');
  });

  it('accepts an origin with a trailing slash', async () => {
    const result = await nexttapModels(['activate', 'linear@9', '--url', `${url}/`], { ADMIN_TOKEN: TOKEN });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('RANKER_ERR_MODEL_NOT_FOUND');
  });
});

describe('nexttap models ranker errors', () => {
  let fake: Server;
  let fakeUrl: string;
  let reply: { status: number; body: string } = { status: 500, body: '' };

  beforeAll(async () => {
    // A server of this test in place of a ranker, for replies that a running ranker does not give on request.
    fake = createServer((request, response) => {
      request.resume();
      response.writeHead(reply.status, { 'content-type': 'application/json' });
      response.end(reply.body);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => fake.close(resolve));
  });

  it('prints the code and message of a rejection', async () => {
    const result = await nexttapModels(['activate', 'linear@9', '--url', url], { ADMIN_TOKEN: TOKEN });
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^nexttap: RANKER_ERR_MODEL_NOT_FOUND: /);
    expect(lines[0]).toContain('linear@9');
    expect(result.stderr).not.toContain('{');
    expect(result.stdout).toBe('');
  });

  it('prints a wrong token in one line', async () => {
    const result = await nexttapModels(['rollback', '--url', url], { ADMIN_TOKEN: 'not-the-token-at-all' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('nexttap: RANKER_ERR_UNAUTHORIZED: this route needs the admin bearer token; send Authorization: Bearer <ADMIN_TOKEN>\n');
  });

  it('names a ranker without admin routes', async () => {
    reply = { status: 404, body: JSON.stringify({ error: { code: 'HTTP_ERR_NOT_FOUND', message: 'no route for POST /v1/admin/models/rollback' } }) };
    const result = await nexttapModels(['rollback', '--url', fakeUrl], { ADMIN_TOKEN: TOKEN });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`nexttap: the ranker at ${fakeUrl} has no admin routes (HTTP_ERR_NOT_FOUND: no route for POST /v1/admin/models/rollback); start it with ADMIN_TOKEN set\n`);
  });

  it('prints a reply that is no error object', async () => {
    reply = { status: 502, body: '<html>\n<body>Bad Gateway</body>\n</html>' };
    const result = await nexttapModels(['rollback', '--url', fakeUrl], { ADMIN_TOKEN: TOKEN });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `nexttap: ${fakeUrl}/v1/admin/models/rollback replied HTTP 502: <html> <body>Bad Gateway</body> </html>; check --url and that it is a nexttap ranker\n`,
    );
  });

  it('names the URL of a failed connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const result = await nexttapModels(['rollback', '--url', closedUrl], { ADMIN_TOKEN: TOKEN });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`nexttap: request to ${closedUrl}/v1/admin/models/rollback failed (fetch failed: connect ECONNREFUSED`);
    expect(result.stderr).toContain('check --url and that the ranker runs');
  });
});
