import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

describe('docker-compose.yml', () => {
  // No Docker engine runs on the test machines, so this checks the file's syntax and references
  // with `docker-compose config`; building and running the containers is not tested here.
  it('validates with docker-compose config', async () => {
    const { stdout } = await run('docker-compose', ['config'], { cwd: root });
    expect(stdout).toContain('kafka:');
    expect(stdout).toContain('KAFKA_PROCESS_ROLES: broker,controller');
    for (const service of ['redis:', 'ingest:', 'ranker:']) {
      expect(stdout).toContain(service);
    }
  });

  it('gives every long-running service a health check', async () => {
    const { stdout } = await run('docker-compose', ['config'], { cwd: root });
    const healthChecks = stdout.match(/^ {4}healthcheck:$/gm) ?? [];
    expect(healthChecks.length).toBeGreaterThanOrEqual(4);
  });

  it('builds each service from its own Dockerfile', async () => {
    const { stdout } = await run('docker-compose', ['config'], { cwd: root });
    expect(stdout).toContain('dockerfile: services/ingest/Dockerfile');
    expect(stdout).toContain('dockerfile: services/ranker/Dockerfile');
  });
});

// Docker itself cannot run here, so these read the Dockerfiles for the rules every image follows.
describe.each(['Dockerfile', 'services/ingest/Dockerfile', 'services/ranker/Dockerfile'])('%s', (path) => {
  const text = readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
  const instructions = text.split('\n').filter((line) => /^[A-Z]+ /.test(line));
  const lastStage = instructions.slice(instructions.findLastIndex((line) => line.startsWith('FROM ')));

  it('builds in two stages', () => {
    expect(instructions.filter((line) => line.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
  });

  it('installs production dependencies only', () => {
    expect(text).toMatch(/npm ci --omit=dev/);
  });

  it('runs as the unprivileged node user', () => {
    expect(lastStage).toContain('USER node');
  });

  it('declares a health check', () => {
    expect(lastStage.some((line) => line.startsWith('HEALTHCHECK '))).toBe(true);
  });

  it('copies only paths that exist', () => {
    const sources = instructions
      .filter((line) => line.startsWith('COPY ') && !line.includes('--from='))
      .flatMap((line) => line.replace(/--chown=\S+ /, '').split(' ').slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(new URL(`../${source}`, import.meta.url)), source).toBe(true);
    }
  });
});
