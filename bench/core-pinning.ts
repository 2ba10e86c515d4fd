import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Redis } from 'ioredis';

/**
 * Cores of the "own core" setting of the latency benchmarks: the server's event loop thread runs
 * alone on `server`, and what loads it (the load generator's thread, redis-server) runs on
 * `load`. A ranker in production gets its load from other machines. On a 2-core benchmark
 * machine the generator and Redis otherwise take turns with the ranker's thread on its core, and
 * each such turn can hold a ready request for milliseconds.
 */
export const OWN_CORE = { server: 0, load: 1 } as const;

/** Tells whether threads can be pinned: `taskset` (util-linux) is installed and the machine has 2 cores or more. */
export function canPinCores(): boolean {
  if (availableParallelism() < 2) {
    return false;
  }
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Pins this process's main thread, the one that runs the event loop, to `core`, and returns a
 * function that gives it back the cores it had. Threads that already run (V8's garbage collector
 * helpers, libuv's pool) keep their cores; threads started later inherit the pinning.
 */
export function pinMainThread(core: number): () => void {
  const pid = String(process.pid);
  const previous = /:\s*([0-9a-f,]+)\s*$/i.exec(execFileSync('taskset', ['-p', pid], { encoding: 'utf8' }))?.[1];
  if (previous === undefined) {
    throw new Error(`taskset -p ${pid} printed no affinity mask`);
  }
  execFileSync('taskset', ['-p', '-c', String(core), pid], { stdio: 'ignore' });
  return () => {
    execFileSync('taskset', ['-p', previous, pid], { stdio: 'ignore' });
  };
}

/**
 * Sets the cores of every thread of the redis-server that `client` is connected to, found by its
 * INFO process id: `cores` is a taskset list such as `1` or `0-1`.
 */
export async function setRedisServerCores(client: Redis, cores: string): Promise<void> {
  const pid = /process_id:(\d+)/.exec(await client.info('server'))?.[1];
  if (pid === undefined) {
    throw new Error('INFO server of the benchmark redis-server has no process_id');
  }
  execFileSync('taskset', ['-a', '-p', '-c', cores, pid], { stdio: 'ignore' });
}

/** Returns all cores of the machine as a taskset list, `0-N`. */
export function allCores(): string {
  return `0-${availableParallelism() - 1}`;
}
