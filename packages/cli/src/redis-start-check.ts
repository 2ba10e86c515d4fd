import { redactSecretsInText } from '@nexttap/observability';
import { Redis } from 'ioredis';
import { RedisStartError } from './cli-errors';
import { redisUrlDatabase } from './redis-url';

/**
 * Maximum wait of the start check for a TCP connection and for each reply, in ms. ioredis's own
 * connect timeout is also 10 s. Its commands have no timeout by default, so without one a server
 * that accepts connections but never replies would hold the start forever.
 */
const START_CHECK_TIMEOUT_MS = 10_000;

/**
 * Connects once to the Redis of REDIS_URL, authenticates and selects its database, and throws a
 * RedisStartError naming REDIS_URL, what failed and the fix when any step fails. The clients of
 * the process reconnect and retry without end, and ioredis carries on in database 0 when SELECT
 * fails, so this check is what stops a start on an unusable Redis.
 */
export async function checkRedisAtStart(url: string): Promise<void> {
  const probe = new Redis(url, {
    lazyConnect: true,
    // One attempt: a failure is reported, not retried.
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: START_CHECK_TIMEOUT_MS,
    commandTimeout: START_CHECK_TIMEOUT_MS,
  });
  // ioredis emits the cause (ECONNREFUSED, WRONGPASS) as an error event and rejects connect() with
  // only "Connection is closed.", so the events are kept for the message.
  const errors: Error[] = [];
  probe.on('error', (error: Error) => errors.push(error));
  const shownUrl = redactSecretsInText(url);
  try {
    try {
      await probe.connect();
    } catch (error) {
      const cause = errors.at(-1) ?? (error as Error);
      throw new RedisStartError(`REDIS_URL=${shownUrl}: ${connectFailure(cause, errors, probe)}`, { cause });
    }
    const database = redisUrlDatabase(url);
    try {
      await probe.select(database);
    } catch (error) {
      const databases = await configuredDatabases(probe);
      throw new RedisStartError(`REDIS_URL=${shownUrl}: ${selectFailure(database, error as Error, databases)}`, { cause: error });
    }
  } finally {
    probe.disconnect();
  }
}

/** Describes why the connection failed, with the fix. */
function connectFailure(cause: Error, errors: readonly Error[], probe: Redis): string {
  const address = `${probe.options.host ?? ''}:${probe.options.port ?? ''}`;
  const code = (cause as NodeJS.ErrnoException).code;
  // Redis error replies start with an error code: WRONGPASS for a wrong user or password and
  // NOAUTH when the server requires a password and none was sent (redis-server 7.0). ioredis
  // wraps some of them as "Ready check failed: ...".
  const authentication = errors.find((error) => /\b(WRONGPASS|NOAUTH)\b/.test(error.message));
  if (authentication !== undefined) {
    return `authentication failed at ${address} (${authentication.message.replace(/^Ready check failed: /, '')}); put a user and password that the server accepts in REDIS_URL, as redis://user:password@host:port/db, or redis://:password@host:port/db for the default user`;
  }
  if (code === 'ECONNREFUSED') {
    return `connection refused at ${address}; start Redis there, or set REDIS_URL to a Redis that accepts connections. Redis must be reachable when the server starts`;
  }
  if (code === 'ETIMEDOUT') {
    return `connecting to ${address} timed out after ${START_CHECK_TIMEOUT_MS} ms; check that Redis runs there and that no firewall drops the connection`;
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `host ${probe.options.host ?? ''} was not found; set REDIS_URL to the host name or address of the Redis server`;
  }
  return `connecting to Redis at ${address} failed: ${cause.message}; check that REDIS_URL names a running Redis that this process may use`;
}

/** Describes why SELECT failed, with the number of databases when CONFIG GET returns it. */
function selectFailure(database: number, error: Error, databases: number | undefined): string {
  if (databases === undefined) {
    return `Redis rejected database ${database} (${error.message}); set REDIS_URL to a database that the server has, or raise the databases setting of the server`;
  }
  return (
    `Redis rejected database ${database} (${error.message}) because the server has ${databases} databases, 0 to ${databases - 1}; ` +
    `set REDIS_URL to one of them, or raise the databases setting of the server (redis.conf) and restart it`
  );
}

/** Returns the server's `databases` setting, or undefined when the server does not allow CONFIG GET. */
async function configuredDatabases(probe: Redis): Promise<number | undefined> {
  try {
    const reply = (await probe.config('GET', 'databases')) as unknown;
    const value = Array.isArray(reply) ? Number(reply[1]) : Number.NaN;
    return Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
