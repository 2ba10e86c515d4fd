import { execFile } from 'node:child_process';
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
});
