import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 50;
const PING_TIMEOUT_MS = 1_000;
const STOP_TIMEOUT_MS = 5_000;
/** Start attempts when another process takes the free port before redis-server binds it. */
const START_ATTEMPTS = 3;
/** Characters of redis-server output kept for error messages. */
const OUTPUT_TAIL_CHARS = 8_192;

/** A private redis-server on a loopback port, without persistence. */
export interface RedisServer {
  /** Connection URL, `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server and deletes its working directory. Calling it again does nothing. */
  stop(): Promise<void>;
  /**
   * Stops the server and starts a new one on the same port. The new server
   * is empty because persistence is off. Rejects after `stop()`.
   */
  restart(): Promise<void>;
}

/**
 * Starts redis-server on a free port of 127.0.0.1 with RDB and AOF
 * persistence off and a temporary working directory, and resolves once it
 * replies to PING.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const directory = await mkdtemp(join(tmpdir(), 'nexttap-redis-'));
  let instance: RedisInstance | undefined;
  let port = 0;
  try {
    for (let attempt = 1; instance === undefined; attempt++) {
      port = await findFreePort();
      try {
        instance = await RedisInstance.start(port, directory);
      } catch (error) {
        if (!(error instanceof PortInUseError) || attempt >= START_ATTEMPTS) {
          throw error;
        }
      }
    }
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }

  let current: RedisInstance | undefined = instance;
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://${HOST}:${port}`,
    port,
    stop: () => {
      stopped ??= (async () => {
        await current?.stop();
        current = undefined;
        await rm(directory, { recursive: true, force: true });
      })();
      return stopped;
    },
    restart: async () => {
      if (stopped) {
        throw new Error(`cannot restart redis-server on port ${port}: it was stopped`);
      }
      await current?.stop();
      current = undefined;
      current = await RedisInstance.start(port, directory);
    },
  };
}

class PortInUseError extends Error {}

/** One redis-server process. */
class RedisInstance {
  private output = '';
  private readonly exited: Promise<void>;
  private exitStatus: string | undefined;
  private spawnError: Error | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
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
              ? new Error(
                  'redis-server was not found on PATH. ' +
                    'Install the Debian package redis-server: apt-get install -y redis-server',
                )
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

  static async start(port: number, directory: string): Promise<RedisInstance> {
    const args = [
      '--port', String(port),
      '--bind', HOST,
      '--save', '',
      '--appendonly', 'no',
      '--dir', directory,
      '--daemonize', 'no',
      // An empty log file name sends the log to stdout, which is kept for error messages.
      '--logfile', '',
    ];
    const instance = new RedisInstance(spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] }), port);
    try {
      await instance.waitUntilReady();
    } catch (error) {
      await instance.stop();
      throw error;
    }
    return instance;
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

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.spawnError) {
        throw this.spawnError;
      }
      if (this.exitStatus !== undefined) {
        const message = `redis-server on port ${this.port} exited with ${this.exitStatus} during startup:\n${this.output.trim()}`;
        throw /Address already in use/i.test(this.output) ? new PortInUseError(message) : new Error(message);
      }
      if (await ping(this.port)) {
        return;
      }
      await delay(PING_INTERVAL_MS);
    }
    throw new Error(
      `redis-server on port ${this.port} did not reply to PING within ${READY_TIMEOUT_MS} ms:\n${this.output.trim()}`,
    );
  }
}

/** Sends PING over a fresh connection. Resolves true on a PONG reply, false on any failure. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PING_TIMEOUT_MS, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) {
        finish(reply.startsWith('+PONG'));
      }
    });
  });
}

/**
 * Returns a loopback port that was free a moment ago, found by binding port 0.
 * Another process can still take it before redis-server binds it, which
 * startRedisServer handles by retrying with a new port.
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
