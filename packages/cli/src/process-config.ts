import { ingestConfigSchema, INGEST_ENVIRONMENT } from '@nexttap/ingest';
import { REDACTION_CENSOR, redactSecretsInText } from '@nexttap/observability';
import { rankerConfigSchema, RANKER_ENVIRONMENT } from '@nexttap/ranker';
import { brokerAddressProblem } from '@nexttap/bus';
import { numberSettingSchema } from '@nexttap/http';
import { z } from 'zod';
import { ConfigError } from './cli-errors';
import { redisUrlProblem } from './redis-url';

export { ConfigError } from './cli-errors';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Settings shared by every role of the process. */
export const processConfigSchema = z.object({
  port: numberSettingSchema({ min: 0, max: 65_535, default: 8080 }).describe('TCP port of the HTTP server; 0 picks a free port.'),
  host: z.string().min(1).default('127.0.0.1').describe('Address the HTTP server listens on; 0.0.0.0 for every interface.'),
  // Node's own default is 300 s. The maximum allows a 50 MiB collector body (the largest
  // COLLECTOR_BODY_LIMIT_BYTES) over a link of about 1 Mbit/s.
  httpRequestTimeoutMs: numberSettingSchema({ min: 1_000, max: 600_000, default: 30_000, unit: 'milliseconds' })
    .describe('Longest time a client may take to send a whole request, headers and body, in ms; a slower client gets 408 and its connection is closed. The server checks once a second, so a slow client is cut off up to about 1 s after the timeout. Responses, such as an open live feed, have no time limit.'),
  logLevel: z.enum(LOG_LEVELS).default('info').describe('Lowest pino level written: fatal, error, warn, info, debug, trace or silent.'),
  kafkaBrokers: z
    .string()
    .default('')
    .describe('Comma-separated Kafka bootstrap servers as host:port, with a host name or an IPv4 address; empty runs the in-process bus.')
    .transform((value, context) => {
      const brokers = splitList(value, context, 'list host:port addresses such as 10.0.0.5:9092, or leave KAFKA_BROKERS empty for the in-process bus');
      for (const broker of brokers) {
        const problem = brokerAddressProblem(broker);
        if (problem !== undefined) {
          context.addIssue({ code: z.ZodIssueCode.custom, message: `broker ${JSON.stringify(broker)} ${problem}` });
        }
      }
      return brokers;
    }),
  kafkaClientId: z.string().min(1).default('nexttap').describe('Client id the Kafka brokers show for this process.'),
  // The defaults are kafkajs 2.2.4's own. Apache Kafka brokers reject a session timeout outside
  // group.min.session.timeout.ms and group.max.session.timeout.ms (6 s and 30 min by default).
  kafkaSessionTimeoutMs: numberSettingSchema({ min: 1_000, max: 1_800_000, default: 30_000, unit: 'milliseconds' })
    .describe('Consumer group session timeout, in ms: a member without a heartbeat for this long is evicted and its partitions move. Ingest heartbeats between batches, so one batch must take less. The broker must allow the value (6 s to 30 min by default on Apache Kafka).'),
  kafkaHeartbeatIntervalMs: numberSettingSchema({ min: 100, max: 600_000, default: 3_000, unit: 'milliseconds' })
    .describe('Interval between consumer group heartbeats, in ms; at most a third of KAFKA_SESSION_TIMEOUT_MS.'),
  kafkaRebalanceTimeoutMs: numberSettingSchema({ min: 1_000, max: 1_800_000, default: 60_000, unit: 'milliseconds' })
    .describe('Longest wait of the group coordinator for members to rejoin during a rebalance, in ms; at least KAFKA_SESSION_TIMEOUT_MS. Ingest gives up starting when its first group join takes longer than this plus the session timeout.'),
  kafkaFetchMaxWaitMs: numberSettingSchema({ min: 1, max: 10_000, default: 100, unit: 'milliseconds' })
    .describe('Longest wait of a consumer fetch on a broker with no new records, in ms. A Kafka broker answers as soon as records arrive; the librdkafka mock cluster of the tests answers an empty fetch only after this wait.'),
  kafkaMaxBatchRecords: numberSettingSchema({ min: 1, max: 100_000, default: 100 })
    .describe('Max records of one partition that ingest applies in one batch. Records that arrive while a batch of their partition is applied go into the next batch, up to this count. Fetching a partition pauses while this many of its records wait.'),
  redisUrl: z.string().default('')
    .superRefine((text, context) => {
      const problem = text === '' ? undefined : redisUrlProblem(text);
      if (problem !== undefined) {
        context.addIssue({ code: z.ZodIssueCode.custom, message: problem });
      }
    })
    .describe('Redis URL such as redis://127.0.0.1:6379/0, with the database number (0 when left out) as the path; `?db=` is rejected. Redis must be reachable at start. Empty, with REDIS_CLUSTER_NODES empty too, runs the in-memory store.'),
  redisClusterNodes: z
    .string()
    .default('')
    .describe('Comma-separated host:port of Redis Cluster nodes (some or all masters); set it instead of REDIS_URL to run the store on Redis Cluster.')
    .transform((value, context) => {
      const nodes = splitList(value, context, 'list host:port addresses such as 10.0.0.5:6379, or unset REDIS_CLUSTER_NODES');
      for (const node of nodes) {
        if (!isHostAndPort(node)) {
          context.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(node)} is not a node address; write it as host:port, e.g. 10.0.0.5:6379` });
        }
      }
      return nodes;
    }),
  redisKeyPrefix: z.string().default('nt:')
    .describe('Prefix of every Redis key, for several deployments on one Redis; without { or } on Redis Cluster.'),
  redisCommandTimeoutMs: numberSettingSchema({ min: 1, max: 60_000, default: 50, unit: 'milliseconds' })
    .describe('Redis command timeout of the ranker\'s client, in ms; the ingest client waits longer and retries.'),
  // The estimate was at most 7 % under the heap measured by bench/memory-store-heap.ts, so 256 MB of
  // store is at most about 280 MB of heap. The embedded server used about 380 MB of heap after the
  // MovieLens seed, which takes about 150 MB of the estimate, so the default keeps it near 500 MB,
  // within Node's default heap limit (`node -p "v8.getHeapStatistics().heap_size_limit"` prints it).
  // The 106 MB left after the seed hold about 15,000 served feeds of about 7 KB.
  memoryStoreMaxMb: numberSettingSchema({ min: 16, max: 1_048_576, default: 256, unit: 'megabytes' })
    .describe('Limit on the estimated memory of the in-memory store (no REDIS_URL or REDIS_CLUSTER_NODES), in MB of 1,048,576 bytes. Past it the oldest-written served feed records and event dedup keys are evicted first, then idle sessions, then users; items and pools are never evicted. Raise it together with node --max-old-space-size.'),
  seedDataset: z.enum(['auto', 'movielens', 'none']).default('auto')
    .describe('Data loaded at start: `movielens` (catalog and history), `none`, or `auto` (MovieLens with the in-memory store only).'),
  movielensDir: z.string().min(1).default('data/movielens')
    .describe('Folder of the MovieLens CSV files.'),
  // 35 s, above the 30 s default of KAFKA_SESSION_TIMEOUT_MS: a shutdown during a rebalance waits
  // for the rejoin, which can take that long, so a lower default timed out rolling restarts.
  shutdownTimeoutMs: numberSettingSchema({ min: 100, max: 120_000, default: 35_000, unit: 'milliseconds' })
    .describe('Longest wait for in-flight work at shutdown, in ms, including the in-process bus\'s drain of acknowledged events; a shutdown that takes longer exits with code 1. On Kafka, keep it above KAFKA_SESSION_TIMEOUT_MS, because a shutdown during a rebalance waits for the rejoin, and give the supervisor a longer grace period.'),
  corsAllowedOrigins: z
    .string()
    .default('')
    .describe('Comma-separated origins (scheme://host[:port]) whose browser pages may call the API, or `*` for any; empty sends no CORS headers, so browsers block cross-origin calls.')
    .transform((value, context) => {
      const origins = value.split(',').map((origin) => origin.trim()).filter((origin) => origin.length > 0);
      for (const origin of origins) {
        if (origin !== '*' && !isOrigin(origin)) {
          context.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(origin)} is not an origin; write it as scheme://host[:port] with no path, e.g. https://app.example.com` });
        }
      }
      return origins;
    }),
});

export const PROCESS_ENVIRONMENT: Record<keyof z.infer<typeof processConfigSchema>, string> = {
  port: 'PORT',
  host: 'HOST',
  httpRequestTimeoutMs: 'HTTP_REQUEST_TIMEOUT_MS',
  logLevel: 'LOG_LEVEL',
  kafkaBrokers: 'KAFKA_BROKERS',
  kafkaClientId: 'KAFKA_CLIENT_ID',
  kafkaSessionTimeoutMs: 'KAFKA_SESSION_TIMEOUT_MS',
  kafkaHeartbeatIntervalMs: 'KAFKA_HEARTBEAT_INTERVAL_MS',
  kafkaRebalanceTimeoutMs: 'KAFKA_REBALANCE_TIMEOUT_MS',
  kafkaFetchMaxWaitMs: 'KAFKA_FETCH_MAX_WAIT_MS',
  kafkaMaxBatchRecords: 'KAFKA_MAX_BATCH_RECORDS',
  redisUrl: 'REDIS_URL',
  redisClusterNodes: 'REDIS_CLUSTER_NODES',
  redisKeyPrefix: 'REDIS_KEY_PREFIX',
  redisCommandTimeoutMs: 'REDIS_COMMAND_TIMEOUT_MS',
  memoryStoreMaxMb: 'MEMORY_STORE_MAX_MB',
  seedDataset: 'SEED_DATASET',
  movielensDir: 'MOVIELENS_DIR',
  shutdownTimeoutMs: 'SHUTDOWN_TIMEOUT_MS',
  corsAllowedOrigins: 'CORS_ALLOWED_ORIGINS',
};

export interface ServerConfig {
  process: Readonly<z.infer<typeof processConfigSchema>>;
  ingest: z.infer<typeof ingestConfigSchema>;
  ranker: z.infer<typeof rankerConfigSchema>;
}

/** Every environment variable the server reads, by schema, for the docs and the config test. */
export const ENVIRONMENT_TABLES = [
  { schema: processConfigSchema, environment: PROCESS_ENVIRONMENT },
  { schema: ingestConfigSchema, environment: INGEST_ENVIRONMENT },
  { schema: rankerConfigSchema, environment: RANKER_ENVIRONMENT },
] as const;

/**
 * Parses the server configuration from environment variables, once, and freezes it. Every
 * problem is reported together, each naming the variable, its value and the rule it broke.
 */
export function parseServerConfig(environment: Readonly<Record<string, string | undefined>>): ServerConfig {
  const problems: string[] = [];
  const parse = <S extends z.ZodTypeAny>(schema: S, names: Record<string, string>): z.output<S> => {
    const input = Object.fromEntries(Object.entries(names).map(([key, name]) => [key, emptyToUndefined(environment[name], key)]));
    const parsed = schema.safeParse(input);
    if (parsed.success) {
      return parsed.data as z.output<S>;
    }
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '');
      const name = names[key] ?? key;
      problems.push(`${name}=${shownValue(name, environment[name] ?? '')}: ${issueMessage(issue)}`);
    }
    return undefined as z.output<S>;
  };
  const config = {
    process: parse(processConfigSchema, PROCESS_ENVIRONMENT),
    ingest: parse(ingestConfigSchema, INGEST_ENVIRONMENT),
    ranker: parse(rankerConfigSchema, RANKER_ENVIRONMENT),
  };
  problems.push(...checkRedisSettings(environment));
  if (config.process !== undefined) {
    problems.push(...checkConsumerTimings(config.process));
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return deepFreeze(config);
}

/**
 * Words a schema issue as a rule and its fix. Messages the schemas set themselves are kept; the
 * library's defaults ("Expected number, received nan") are replaced.
 */
function issueMessage(issue: z.ZodIssue): string {
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      if (issue.expected === 'integer') {
        return 'is not a whole number; write digits only, such as 100';
      }
      return issue.expected === 'number' ? 'is not a number; write digits only, such as 100' : issue.message;
    case z.ZodIssueCode.invalid_enum_value:
      return `is not an accepted value; use one of ${issue.options.map(String).join(', ')}`;
    case z.ZodIssueCode.too_small:
      return issue.type === 'number' ? `is below the minimum; use at least ${String(issue.minimum)}` : issue.message;
    case z.ZodIssueCode.too_big:
      return issue.type === 'number' ? `is above the maximum; use at most ${String(issue.maximum)}` : issue.message;
    default:
      return issue.message;
  }
}

/** Returns the problems of Redis settings that are valid alone but not together. */
function checkRedisSettings(environment: Readonly<Record<string, string | undefined>>): string[] {
  const url = environment[PROCESS_ENVIRONMENT.redisUrl] ?? '';
  const clusterNodes = environment[PROCESS_ENVIRONMENT.redisClusterNodes] ?? '';
  const prefix = environment[PROCESS_ENVIRONMENT.redisKeyPrefix] ?? '';
  const problems: string[] = [];
  if (url.trim() !== '' && clusterNodes.trim() !== '') {
    problems.push('REDIS_URL and REDIS_CLUSTER_NODES are both set: set REDIS_URL for a single Redis or REDIS_CLUSTER_NODES for Redis Cluster, not both');
  }
  if (clusterNodes.trim() !== '' && /[{}]/.test(prefix)) {
    problems.push(`REDIS_KEY_PREFIX=${JSON.stringify(prefix)}: on Redis Cluster the prefix must not contain { or }, which would put every key in one hash slot`);
  }
  return problems;
}

/** Returns the problems of Kafka consumer timings that are valid alone but not together. */
function checkConsumerTimings(settings: z.infer<typeof processConfigSchema>): string[] {
  const { kafkaSessionTimeoutMs: session, kafkaHeartbeatIntervalMs: heartbeat, kafkaRebalanceTimeoutMs: rebalance } = settings;
  const problems: string[] = [];
  // Kafka's consumer documentation sets the heartbeat interval to at most a third of the session
  // timeout, so that a member can miss two heartbeats before the coordinator evicts it.
  if (heartbeat * 3 > session) {
    problems.push(
      `KAFKA_HEARTBEAT_INTERVAL_MS=${heartbeat}: must be at most a third of KAFKA_SESSION_TIMEOUT_MS=${session}, ` +
        `or one late heartbeat evicts a healthy member; lower it to ${Math.floor(session / 3)} or raise the session timeout`,
    );
  }
  // A member busy with a batch sends no heartbeat until the batch is done. A rebalance timeout
  // shorter than the session timeout would evict, during a rebalance, a member that the session
  // timeout keeps at any other time.
  if (rebalance < session) {
    problems.push(
      `KAFKA_REBALANCE_TIMEOUT_MS=${rebalance}: must be at least KAFKA_SESSION_TIMEOUT_MS=${session}, ` +
        'or a rebalance evicts members that are still applying a batch',
    );
  }
  return problems;
}

/**
 * Splits a comma-separated setting into trimmed entries. A blank value or an empty entry (`a,,b` or
 * a comma at either end) is an issue, not skipped, because skipping it would turn
 * `KAFKA_BROKERS=","` into the embedded mode without a word. `fix` is the advice that the message
 * for a blank value ends with.
 */
function splitList(value: string, context: z.RefinementCtx, fix: string): string[] {
  if (value === '') {
    return [];
  }
  const entries = value.split(',').map((entry) => entry.trim());
  if (value.trim() === '') {
    context.addIssue({ code: z.ZodIssueCode.custom, message: `is blank; ${fix}` });
  } else if (entries.includes('')) {
    context.addIssue({ code: z.ZodIssueCode.custom, message: 'has an empty entry; remove the extra comma' });
  }
  return entries.filter((entry) => entry !== '');
}

/** Tells whether `text` is `host:port` with a port from 1 to 65535; an IPv6 host goes in brackets. */
function isHostAndPort(text: string): boolean {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  return match !== null && port >= 1 && port <= 65_535;
}

/** Tells whether `text` is exactly a URL origin: an http(s) scheme and a host, with no path, query or trailing slash. */
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text;
  } catch {
    return false;
  }
}

/** Empty variables count as unset, except the two whose empty value selects the embedded mode. */
function emptyToUndefined(value: string | undefined, key: string): string | undefined {
  if (value === '' && key !== 'kafkaBrokers' && key !== 'redisUrl') {
    return undefined;
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
    Object.freeze(value);
  }
  return value;
}

/** Variables whose whole value is a secret, so a configuration error never prints it. */
const SECRET_VARIABLES = new Set(['ADMIN_TOKEN']);

/** Returns a variable's value as a configuration error shows it: quoted, with any secret in it replaced. */
function shownValue(name: string, value: string): string {
  if (SECRET_VARIABLES.has(name) && value !== '') {
    return REDACTION_CENSOR;
  }
  // A malformed URL escapes the URL pattern of redactSecretsInText, so anything between a colon
  // and an @ in a URL setting is taken for a password.
  const redacted = name.endsWith('_URL') ? value.replace(/:[^:@]*@/g, `:${REDACTION_CENSOR}@`) : value;
  return redactSecretsInText(JSON.stringify(redacted));
}
