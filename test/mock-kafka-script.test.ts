import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';

const REPOSITORY_ROOT = new URL('..', import.meta.url).pathname;

let child: ChildProcessWithoutNullStreams | undefined;

afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** Starts scripts/mock-kafka.ts with `args` and returns its output so far and its exit. */
function startScript(args: string[], environment: Record<string, string> = {}) {
  const started = spawn(process.execPath, ['--import', 'tsx', 'scripts/mock-kafka.ts', ...args], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, TOPIC_PREFIX: '', ...environment },
  });
  child = started;
  let output = '';
  started.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  started.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => started.on('exit', (code, signal) => resolve(code ?? signal)));
  return { child: started, output: () => output, exited };
}

describe('mock-kafka script', () => {
  it('serves the ingest topics until SIGINT', async () => {
    const script = startScript(['--partitions', '2'], { TOPIC_PREFIX: 'trial' });
    await expect.poll(() => /KAFKA_BROKERS=(\S+)/.exec(script.output())?.[1], { timeout: 30_000 }).toBeDefined();
    const bootstrap = /KAFKA_BROKERS=(\S+)/.exec(script.output())?.[1] as string;

    const admin = new Kafka({ brokers: bootstrap.split(','), clientId: 'mock-kafka-script-test', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: ['trial.interactions', 'trial.catalog', 'trial.interactions.dlq'] });
      // The mock creates an unknown topic on a metadata request with 4 partitions, so 2 shows that the script created them.
      const partitionCounts = Object.fromEntries(metadata.topics.map((topic) => [topic.name, topic.partitions.length]));
      expect(partitionCounts).toEqual({ 'trial.interactions': 2, 'trial.catalog': 2, 'trial.interactions.dlq': 2 });
    } finally {
      await admin.disconnect();
    }

    script.child.kill('SIGINT');
    expect(await script.exited).toBe(0);
    expect(script.output()).toContain('SIGINT received; stopping the mock Kafka cluster');
  });

  it('rejects a partition count of 0', async () => {
    const script = startScript(['--partitions', '0']);
    expect(await script.exited).toBe(2);
    expect(script.output()).toContain('mock-kafka: --partitions 0 is invalid; use a whole number from 1 to 1000');
  });
});
