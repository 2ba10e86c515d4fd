import type { Redis } from 'ioredis';

/** Returns the user and system CPU seconds that the redis-server process has used so far, from INFO cpu. */
export async function redisCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return seconds('used_cpu_user') + seconds('used_cpu_sys');
}
