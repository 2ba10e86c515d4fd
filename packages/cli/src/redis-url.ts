/**
 * Checks of REDIS_URL that go beyond "is a URL". ioredis 5.11 reads the database from the URL
 * path with parseInt, so `/2abc` selects database 2 and `/abc` gives NaN, a database it cannot
 * select. These checks accept only the forms whose database ioredis reads as written.
 */

/**
 * Maximum database number. redis-server 7.0 accepts its `databases` setting from 1 to
 * 2147483647, and databases are numbered from 0.
 */
export const MAX_REDIS_DATABASE = 2_147_483_646;

const EXAMPLE_URL = 'redis://127.0.0.1:6379/0';

/** Returns what is wrong with a non-empty REDIS_URL, worded as the rule and its fix, or undefined when it is valid. */
export function redisUrlProblem(text: string): string | undefined {
  if (text.trim() === '') {
    return `is blank; write a Redis URL such as ${EXAMPLE_URL}, or leave REDIS_URL empty for the in-memory store`;
  }
  const url = parseRedisUrl(text);
  if (url === undefined) {
    return 'is not a Redis URL; write it as redis://[:password@]host:port[/db] or rediss:// for TLS';
  }
  // ioredis takes the database from the path when there is one, and from `?db=` only without one,
  // so a URL with both would use a database its reader may not expect.
  if (url.searchParams.has('db')) {
    return `sets the database with ?db=; put the database number in the path instead, such as ${EXAMPLE_URL}`;
  }
  const database = url.pathname.slice(1);
  if (database !== '' && !/^(0|[1-9]\d*)$/.test(database)) {
    return `has the database ${JSON.stringify(database)} in its path, which is not a whole number; write the database number in plain digits, such as ${EXAMPLE_URL}, or leave the path out for database 0`;
  }
  if (Number(database) > MAX_REDIS_DATABASE) {
    return `has the database ${database}, above the maximum ${MAX_REDIS_DATABASE}; use the number of a database that the server has`;
  }
  return undefined;
}

/** Returns the database number of a REDIS_URL that redisUrlProblem accepts: its path, or 0 without one. */
export function redisUrlDatabase(text: string): number {
  const database = parseRedisUrl(text)?.pathname.slice(1) ?? '';
  return database === '' ? 0 : Number(database);
}

/** Parses `text` as a URL of the redis: or rediss: scheme with a host, the forms ioredis connects to over TCP. */
function parseRedisUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '' ? url : undefined;
}
