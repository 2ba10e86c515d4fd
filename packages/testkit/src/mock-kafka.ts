import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const helperSource = `${packageRoot}native/mock-kafka.c`;
const cacheDirectory = `${packageRoot}.cache`;
const helperBinary = `${cacheDirectory}/mock-kafka`;

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** Bytes of the helper's stderr kept for error messages. */
const STDERR_TAIL_BYTES = 8_192;

export interface MockKafkaTopic {
  name: string;
  partitions: number;
}

export interface MockKafkaOptions {
  /** Topics created before the promise resolves. */
  topics?: MockKafkaTopic[];
  /** Broker count, 1 to 64. Brokers get ids 1 to `brokers`. Defaults to 3. */
  brokers?: number;
}

/** A librdkafka mock cluster running in a child process. */
export interface MockKafka {
  /** Bootstrap addresses as `host:port`, one per broker. */
  readonly brokers: string[];
  createTopic(name: string, partitions: number): Promise<void>;
  /** Disconnects broker `id` and rejects new connections. Partition leaders do not move. */
  setBrokerDown(id: number): Promise<void>;
  /** Makes broker `id` accept connections again. */
  setBrokerUp(id: number): Promise<void>;
  /** Destroys the cluster. Calling it again does nothing. */
  stop(): Promise<void>;
}

/**
 * Starts a mock Kafka cluster with librdkafka's built-in mock brokers.
 *
 * The helper program is compiled on first use, which needs a C compiler and
 * the librdkafka headers. The mock does not support the CreateTopics API, so
 * create topics here or with `createTopic` instead of with a Kafka admin client.
 * A Metadata request for an unknown topic creates it with 4 partitions, even
 * when the client disallows auto-creation (librdkafka 2.0.2 with kafkajs 2.2.4).
 * A fetch returns at most one record batch per partition, the records of one
 * produce request, where a Kafka broker returns as many as fit in the fetch
 * size. The mock replies to an empty fetch only after the whole fetch wait,
 * and any later response on the same connection waits behind it.
 */
export async function startMockKafka(options: MockKafkaOptions = {}): Promise<MockKafka> {
  const binary = await ensureHelperCompiled();
  const args: string[] = [];
  if (options.brokers !== undefined) {
    args.push('--brokers', String(options.brokers));
  }
  for (const topic of options.topics ?? []) {
    args.push(`${topic.name}:${topic.partitions}`);
  }

  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const helper = new HelperProcess(child);
  const bootstrapLine = await helper.readStartupLine();
  const match = /^BOOTSTRAP (\S+)$/.exec(bootstrapLine);
  if (!match?.[1]) {
    await helper.stop();
    throw new Error(`mock Kafka helper printed an unexpected first line: "${bootstrapLine}"`);
  }
  const brokers = match[1].split(',');

  return {
    brokers,
    createTopic: async (name, partitions) => {
      rejectWhitespace('topic name', name);
      await helper.send(`create-topic ${name} ${partitions}`);
    },
    setBrokerDown: (id) => helper.send(`broker-down ${id}`),
    setBrokerUp: (id) => helper.send(`broker-up ${id}`),
    stop: () => helper.stop(),
  };
}

/** Throws when value would split a line-based helper command into extra words or lines. */
function rejectWhitespace(field: string, value: string): void {
  if (/\s/.test(value)) {
    throw new Error(`invalid ${field} "${value}": it must not contain whitespace`);
  }
}

interface PendingReply {
  command: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Line protocol with the helper: the first stdout line is the startup line,
 * then each command written to stdin gets exactly one reply line, in order.
 */
class HelperProcess {
  private readonly pending: PendingReply[] = [];
  private readonly exited: Promise<void>;
  private startupLine: ((line: string) => void) | undefined;
  private exitError: Error | undefined;
  private stderrTail = '';
  private stopped: Promise<void> | undefined;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    // Writes after the helper exited fail with EPIPE. The exit handler
    // already rejects the affected commands, so the stream error is dropped.
    child.stdin.on('error', () => {});

    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => this.handleLine(line));

    this.exited = new Promise((resolve) => {
      child.on('error', (error) => {
        // Only a failed spawn leaves no pid, and then no exit event follows.
        if (child.pid === undefined) {
          this.exitError = new Error(`starting the mock Kafka helper ${helperBinary} failed: ${error.message}`);
          this.rejectAll();
          resolve();
        }
      });
      // 'close' comes after 'exit' and after stderr has been read to its end.
      child.on('close', (code, signal) => {
        const status = signal === null ? `exit code ${code}` : `signal ${signal}`;
        const stderr = this.stderrTail.trim();
        this.exitError = new Error(
          `mock Kafka helper exited with ${status}` + (stderr ? `; stderr:\n${stderr}` : ''),
        );
        this.rejectAll();
        resolve();
      });
    });
  }

  async readStartupLine(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const line = new Promise<string>((resolve, reject) => {
      this.startupLine = resolve;
      timer = setTimeout(
        () => reject(new Error(`mock Kafka helper printed no bootstrap line within ${STARTUP_TIMEOUT_MS} ms`)),
        STARTUP_TIMEOUT_MS,
      );
      void this.exited.then(() => reject(this.exitError));
    });
    try {
      return await line;
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
      this.startupLine = undefined;
    }
  }

  send(command: string): Promise<void> {
    if (this.stopped) {
      return Promise.reject(new Error(`mock Kafka command "${command}" was sent after stop()`));
    }
    if (this.exitError) {
      return Promise.reject(this.exitError);
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ command, resolve, reject });
      this.child.stdin.write(`${command}\n`);
    });
  }

  stop(): Promise<void> {
    this.stopped ??= this.quit();
    return this.stopped;
  }

  private async quit(): Promise<void> {
    if (this.exitError) {
      return;
    }
    // The helper exits on "quit" and on end of input. SIGKILL is only for a helper that hangs.
    this.child.stdin.end('quit\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private handleLine(line: string): void {
    if (this.startupLine) {
      this.startupLine(line);
      return;
    }
    const reply = this.pending.shift();
    if (!reply) {
      return;
    }
    if (line === 'OK') {
      reply.resolve();
    } else if (line.startsWith('ERR ')) {
      reply.reject(new Error(`mock Kafka command "${reply.command}" failed: ${line.slice(4)}`));
    } else {
      reply.reject(new Error(`mock Kafka command "${reply.command}" got an unexpected reply: "${line}"`));
    }
  }

  private rejectAll(): void {
    for (const reply of this.pending.splice(0)) {
      reply.reject(this.exitError ?? new Error('mock Kafka helper exited'));
    }
  }
}

let compilation: Promise<string> | undefined;

/**
 * Compiles native/mock-kafka.c into .cache/ unless the binary there is newer
 * than the source. Returns the binary's path.
 */
function ensureHelperCompiled(): Promise<string> {
  compilation ??= compileIfStale().catch((error: unknown) => {
    compilation = undefined;
    throw error;
  });
  return compilation;
}

async function compileIfStale(): Promise<string> {
  const sourceTime = (await stat(helperSource)).mtimeMs;
  const binaryTime = await stat(helperBinary).then(
    (stats) => stats.mtimeMs,
    () => undefined,
  );
  if (binaryTime !== undefined && binaryTime >= sourceTime) {
    return helperBinary;
  }

  await mkdir(cacheDirectory, { recursive: true });
  // Test files run in parallel processes that may compile at the same time.
  // Each writes its own file and renames it into place, which is atomic.
  const temporaryBinary = `${helperBinary}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await execFileAsync('cc', ['-O2', '-Wall', '-o', temporaryBinary, helperSource, '-lrdkafka']);
    await rename(temporaryBinary, helperBinary);
  } catch (error) {
    await rm(temporaryBinary, { force: true });
    throw describeCompileError(error);
  }
  return helperBinary;
}

function describeCompileError(error: unknown): Error {
  const details = error as { code?: unknown; stderr?: unknown; message?: unknown };
  if (details.code === 'ENOENT') {
    return new Error(
      'Compiling the mock Kafka helper failed: the C compiler "cc" was not found on PATH. ' +
        'Install the Debian package gcc: apt-get install -y gcc',
    );
  }
  const stderr = typeof details.stderr === 'string' ? details.stderr : '';
  if (/rdkafka(_mock)?\.h: No such file|cannot find -lrdkafka/.test(stderr)) {
    return new Error(
      'Compiling the mock Kafka helper failed: the librdkafka headers or library are missing. ' +
        'Install the Debian package librdkafka-dev: apt-get install -y librdkafka-dev\n' +
        stderr.trim(),
    );
  }
  return new Error(`Compiling ${helperSource} with cc failed:\n${stderr.trim() || String(details.message)}`);
}
