import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const HOST = '127.0.0.1';
const DEFAULT_MASTERS = 3;
const READY_TIMEOUT_MS = 20_000;
const POLL_INTERVAL_MS = 100;
const STOP_TIMEOUT_MS = 5_000;
/** Start attempts when another process takes a free port before redis-server binds it. */
const START_ATTEMPTS = 3;
/** Characters of each node's output kept for error messages. */
const OUTPUT_TAIL_CHARS = 8_192;

export interface RedisClusterOptions {
  /** Master count, 3 (the least `redis-cli --cluster create` accepts) to 16. Defaults to 3. */
  masters?: number;
}

/** A private Redis Cluster of masters without replicas on loopback ports, without persistence. */
export interface RedisCluster {
  /** The masters as `{ host, port }`, the startup nodes of an ioredis `Cluster`. */
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  /** The masters as `host:port`, comma-joined for `REDIS_CLUSTER_NODES`. */
  readonly addresses: readonly string[];
  /** Stops every node and deletes the working directories. Calling it again does nothing. */
  stop(): Promise<void>;
}

/**
 * Starts `masters` redis-server processes with `--cluster-enabled yes`, joins them with
 * `redis-cli --cluster create` (slots split evenly, no replicas) and resolves once every node
 * reports `cluster_state:ok`. Each node gets a free data port, a free cluster bus port and its own
 * temporary directory.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? DEFAULT_MASTERS;
  if (!Number.isInteger(masters) || masters < 3 || masters > 16) {
    throw new Error(`invalid masters ${masters}: a Redis Cluster here has 3 to 16 masters`);
  }
  const directory = await mkdtemp(join(tmpdir(), 'nexttap-redis-cluster-'));
  const nodes: ClusterNode[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(directory, { recursive: true, force: true });
  };
  try {
    for (let index = 0; index < masters; index++) {
      nodes.push(await ClusterNode.startWithRetry(join(directory, `node-${index}`)));
    }
    const addresses = nodes.map((node) => `${HOST}:${node.port}`);
    await createCluster(addresses);
    await Promise.all(nodes.map((node) => node.waitForClusterOk()));
    let stopped: Promise<void> | undefined;
    return {
      nodes: nodes.map((node) => ({ host: HOST, port: node.port })),
      addresses,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function createCluster(addresses: readonly string[]): Promise<void> {
  try {
    await redisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
  } catch (error) {
    throw new Error(`redis-cli --cluster create ${addresses.join(' ')} failed`, { cause: error });
  }
}

/** Runs redis-cli and returns its stdout. When redis-cli is missing, the error names the Debian package. */
async function redisCli(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('redis-cli', [...args], { timeout: READY_TIMEOUT_MS });
    return stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RedisCliMissingError('redis-cli was not found on PATH. Install the Debian package redis-tools: apt-get install -y redis-tools');
    }
    throw error;
  }
}

class PortInUseError extends Error {}

class RedisCliMissingError extends Error {}

/** One cluster-enabled redis-server process. */
class ClusterNode {
  private output = '';
  private readonly exited: Promise<void>;
  private exitStatus: string | undefined;
  private spawnError: Error | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    const keepOutput = (chunk: string): void => {
      this.output = (this.output + chunk).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.setEncoding('utf8').on('data', keepOutput);
    child.stderr?.setEncoding('utf8').on('data', keepOutput);
    this.exited = new Promise((resolve) => {
      child.on('error', (error: NodeJS.ErrnoException) => {
        // Only a failed spawn leaves no pid, and then no close event follows.
        if (child.pid === undefined) {
          this.spawnError =
            error.code === 'ENOENT'
              ? new Error('redis-server was not found on PATH. Install the Debian package redis-server: apt-get install -y redis-server')
              : new Error(`starting redis-server failed: ${error.message}`);
          this.exitStatus = 'spawn failure';
          resolve();
        }
      });
      child.on('close', (code, signal) => {
        this.exitStatus = signal === null ? `exit code ${code}` : `signal ${signal}`;
        resolve();
      });
    });
  }

  static async startWithRetry(directory: string): Promise<ClusterNode> {
    await mkdir(directory, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      const [port, busPort] = await Promise.all([findFreePort(), findFreePort()]);
      try {
        return await ClusterNode.start(directory, port, busPort);
      } catch (error) {
        if (!(error instanceof PortInUseError) || attempt >= START_ATTEMPTS) {
          throw error;
        }
      }
    }
  }

  private static async start(directory: string, port: number, busPort: number): Promise<ClusterNode> {
    const args = [
      '--port', String(port),
      '--cluster-port', String(busPort),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(directory, 'nodes.conf'),
      // A node that stops responding for 5 s is marked failed. Tests stop whole clusters only.
      '--cluster-node-timeout', '5000',
      '--save', '',
      '--appendonly', 'no',
      '--dir', directory,
      '--daemonize', 'no',
      // An empty log file name sends the log to stdout, which is kept for error messages.
      '--logfile', '',
    ];
    const node = new ClusterNode(spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] }), port);
    try {
      await node.waitUntil(async () => (await node.query(['ping'])) === 'PONG', 'reply to PING');
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  waitForClusterOk(): Promise<void> {
    return this.waitUntil(async () => (await this.query(['cluster', 'info'])).includes('cluster_state:ok'), 'report cluster_state:ok');
  }

  async stop(): Promise<void> {
    if (this.exitStatus !== undefined) {
      return;
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Returns redis-cli's output for a command on this node, or '' while the node is not reachable. */
  private async query(command: readonly string[]): Promise<string> {
    try {
      return (await redisCli(['-h', HOST, '-p', String(this.port), ...command])).trim();
    } catch (error) {
      if (error instanceof RedisCliMissingError) {
        throw error;
      }
      return '';
    }
  }

  private async waitUntil(condition: () => Promise<boolean>, goal: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.spawnError) {
        throw this.spawnError;
      }
      if (this.exitStatus !== undefined) {
        const message = `redis-server on port ${this.port} exited with ${this.exitStatus}:\n${this.output.trim()}`;
        throw /Address already in use/i.test(this.output) ? new PortInUseError(message) : new Error(message);
      }
      if (await condition()) {
        return;
      }
      await delay(POLL_INTERVAL_MS);
    }
    throw new Error(`redis-server on port ${this.port} did not ${goal} within ${READY_TIMEOUT_MS} ms:\n${this.output.trim()}`);
  }
}

/**
 * Returns a loopback port that was free a moment ago, found by binding port 0. Another process can
 * still take it before redis-server binds it, which startWithRetry handles with new ports.
 */
function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') {
          resolve(address.port);
        } else {
          reject(new Error(`binding port 0 on ${HOST} returned no port`));
        }
      });
    });
  });
}
