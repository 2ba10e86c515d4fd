import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, ENVIRONMENT_TABLES, parseServerConfig } from '../src/index';
import { configErrorOf } from './config-errors';

/** Every variable whose default is a number, with that default. */
const NUMERIC_VARIABLES = ENVIRONMENT_TABLES.flatMap(({ schema, environment }) =>
  Object.entries(schema.shape as Record<string, z.ZodTypeAny>).flatMap(([key, field]) => {
    const parsed = field.safeParse(undefined);
    const name = (environment as Record<string, string>)[key] ?? key;
    return parsed.success && typeof parsed.data === 'number' ? [[name, parsed.data] as const] : [];
  }),
);

describe('parseServerConfig', () => {
  it('applies the embedded defaults', () => {
    const config = parseServerConfig({});
    expect(config.process.port).toBe(8080);
    expect(config.process.kafkaBrokers).toEqual([]);
    expect(config.process.redisUrl).toBe('');
    expect(config.ranker.modelDir).toBe('models/movielens-mlp/1');
    expect(config.ingest.maxFutureSkewMs).toBe(300_000);
  });

  it('splits the broker list', () => {
    const config = parseServerConfig({ KAFKA_BROKERS: 'a:9092, b:9092' });
    expect(config.process.kafkaBrokers).toEqual(['a:9092', 'b:9092']);
  });

  it('reads the HTTP request timeout', () => {
    expect(parseServerConfig({}).process.httpRequestTimeoutMs).toBe(30_000);
    expect(parseServerConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000' }).process.httpRequestTimeoutMs).toBe(5_000);
    expect(configErrorOf({ HTTP_REQUEST_TIMEOUT_MS: '999' })).toContain('HTTP_REQUEST_TIMEOUT_MS="999": is below the minimum; use at least 1000');
    expect(configErrorOf({ HTTP_REQUEST_TIMEOUT_MS: '0' })).toContain('HTTP_REQUEST_TIMEOUT_MS="0": is below the minimum');
    expect(configErrorOf({ HTTP_REQUEST_TIMEOUT_MS: '600001' })).toContain('HTTP_REQUEST_TIMEOUT_MS="600001": is above the maximum; use at most 600000');
  });

  it('reads the memory store limit', () => {
    expect(parseServerConfig({}).process.memoryStoreMaxMb).toBe(256);
    expect(parseServerConfig({ MEMORY_STORE_MAX_MB: '1024' }).process.memoryStoreMaxMb).toBe(1_024);
    expect(configErrorOf({ MEMORY_STORE_MAX_MB: '8' })).toContain('MEMORY_STORE_MAX_MB="8": is below the minimum; use at least 16');
    expect(configErrorOf({ MEMORY_STORE_MAX_MB: '1.5' })).toContain('MEMORY_STORE_MAX_MB="1.5": is not a whole number of megabytes in plain digits; write it like 256');
    expect(configErrorOf({ MEMORY_STORE_MAX_MB: '256MB' })).toContain('MEMORY_STORE_MAX_MB="256MB": is not a whole number of megabytes');
  });

  it('reports every invalid variable at once', () => {
    const error = (() => {
      try {
        parseServerConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', POOL_DEPTH: '1' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('PORT="eighty"');
    expect(message).toContain('LOG_LEVEL="loud"');
    expect(message).toContain('POOL_DEPTH="1"');
  });

  it.each([
    ['PORT', 'eighty', 'PORT="eighty": is not a whole number in plain digits; write it like 8080'],
    ['LIVE_DEBOUNCE_MS', '1.5', 'LIVE_DEBOUNCE_MS="1.5": is not a whole number'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL="loud": is not an accepted value; use one of fatal, error, warn, info'],
    ['POOL_REFRESH_INTERVAL_MS', '5', 'POOL_REFRESH_INTERVAL_MS="5": is below the minimum; use at least 50'],
    ['MAX_CANDIDATES', '99999', 'MAX_CANDIDATES="99999": is above the maximum; use at most 5000'],
  ])('words an invalid %s with its fix', (name, value, message) => {
    expect(() => parseServerConfig({ [name]: value })).toThrow(message);
  });

  it('finds the numeric variables', () => {
    expect(NUMERIC_VARIABLES.map(([name]) => name)).toEqual(expect.arrayContaining(['PORT', 'REDIS_COMMAND_TIMEOUT_MS', 'MAX_EVENT_LATENESS_MS', 'LIVE_MAX_CONNECTIONS']));
  });

  it.each(['0x2', '+3', '1e3', ' 5 ', '5 ', '007', '-0', '1_000', 'Infinity'])('rejects %j in every numeric variable', (value) => {
    for (const [name] of NUMERIC_VARIABLES) {
      expect(configErrorOf({ [name]: value }), name).toContain(`${name}=${JSON.stringify(value)}: is not a`);
    }
  });

  it('words a blank variable with its fix', () => {
    expect(configErrorOf({ REDIS_COMMAND_TIMEOUT_MS: '  ' })).toBe(
      'invalid configuration:\n  REDIS_COMMAND_TIMEOUT_MS="  ": is blank; set a whole number of milliseconds such as 50, or unset it to use the default 50',
    );
    expect(configErrorOf({ POOL_DEPTH: '\t' })).toContain('POOL_DEPTH="\\t": is blank; set a whole number such as 200, or unset it to use the default 200');
  });

  it('rejects a blank value in every numeric variable', () => {
    for (const [name, defaultValue] of NUMERIC_VARIABLES) {
      const message = configErrorOf({ [name]: ' ' });
      expect(message, name).toContain(`${name}=" ": is blank; set a `);
      expect(message, name).toContain(`, or unset it to use the default ${defaultValue}`);
    }
  });

  it('words a malformed number with its unit', () => {
    expect(configErrorOf({ RANKER_BODY_LIMIT_BYTES: '0x10000' })).toContain(
      'RANKER_BODY_LIMIT_BYTES="0x10000": is not a whole number of bytes in plain digits; write it like 524288, without a sign, spaces, leading zeros, an exponent or a 0x prefix',
    );
  });

  it('reads plain digits in every numeric variable', () => {
    for (const [name, defaultValue] of NUMERIC_VARIABLES) {
      expect(() => parseServerConfig({ [name]: String(defaultValue) }), name).not.toThrow();
    }
    expect(parseServerConfig({ REDIS_COMMAND_TIMEOUT_MS: '75' }).process.redisCommandTimeoutMs).toBe(75);
    expect(parseServerConfig({ MAX_EVENT_LATENESS_MS: '3000000000000' }).ingest.maxEventLatenessMs).toBe(3_000_000_000_000);
  });

  it('accepts a minus where the range does', () => {
    expect(parseServerConfig({ EXPLORATION_POSITION: '-1' }).ranker.explorationPosition).toBe(-1);
    expect(configErrorOf({ EXPLORATION_POSITION: '-2' })).toContain('EXPLORATION_POSITION="-2": is below the minimum; use at least -1');
    expect(configErrorOf({ EXPLORATION_POSITION: '+1' })).toContain('EXPLORATION_POSITION="+1": is not a whole number in plain digits; write it like 3 or -1, without a plus sign');
    expect(configErrorOf({ LIVE_DEBOUNCE_MS: '-5' })).toContain('LIVE_DEBOUNCE_MS="-5": is below the minimum; use at least 0');
  });

  it('reads a fraction of impressions', () => {
    expect(parseServerConfig({ EXPLORATION_MAX_IMPRESSIONS: '2.5' }).ranker.explorationMaxImpressions).toBe(2.5);
    expect(parseServerConfig({ EXPLORATION_MAX_IMPRESSIONS: '0' }).ranker.explorationMaxImpressions).toBe(0);
    expect(configErrorOf({ EXPLORATION_MAX_IMPRESSIONS: '.5' })).toContain('EXPLORATION_MAX_IMPRESSIONS=".5": is not a number in plain decimal notation; write it like 50 or 0.5');
    expect(configErrorOf({ EXPLORATION_MAX_IMPRESSIONS: '5.' })).toContain('is not a number in plain decimal notation');
  });

  it('keeps the ranges', () => {
    expect(configErrorOf({ PORT: '65536' })).toContain('PORT="65536": is above the maximum; use at most 65535');
    expect(configErrorOf({ MAX_EVENT_LATENESS_MS: '99999999999999999999' })).toContain('is above the maximum; use at most 3200000000000');
    expect(parseServerConfig({ PORT: '0' }).process.port).toBe(0);
  });

  it('freezes the result', () => {
    const config = parseServerConfig({});
    expect(Object.isFrozen(config.process)).toBe(true);
    expect(Object.isFrozen(config.process.kafkaBrokers)).toBe(true);
  });

  it('reads the Kafka consumer timings', () => {
    const config = parseServerConfig({ KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '2000', KAFKA_REBALANCE_TIMEOUT_MS: '6000' });
    expect(config.process.kafkaSessionTimeoutMs).toBe(6_000);
    expect(config.process.kafkaHeartbeatIntervalMs).toBe(2_000);
    expect(config.process.kafkaRebalanceTimeoutMs).toBe(6_000);
  });

  it('defaults the Kafka consumer timings to those of kafkajs', () => {
    const config = parseServerConfig({});
    expect(config.process.kafkaSessionTimeoutMs).toBe(30_000);
    expect(config.process.kafkaHeartbeatIntervalMs).toBe(3_000);
    expect(config.process.kafkaRebalanceTimeoutMs).toBe(60_000);
  });

  it('rejects a heartbeat interval over a third of the session timeout', () => {
    expect(() => parseServerConfig({ KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '2001' }))
      .toThrow(/KAFKA_HEARTBEAT_INTERVAL_MS=2001: must be at most a third of KAFKA_SESSION_TIMEOUT_MS=6000/);
  });

  it('rejects a rebalance timeout under the session timeout', () => {
    expect(() => parseServerConfig({ KAFKA_SESSION_TIMEOUT_MS: '60000', KAFKA_REBALANCE_TIMEOUT_MS: '59999' }))
      .toThrow(/KAFKA_REBALANCE_TIMEOUT_MS=59999: must be at least KAFKA_SESSION_TIMEOUT_MS=60000/);
  });

  it('reads the Kafka batch size', () => {
    expect(parseServerConfig({}).process.kafkaMaxBatchRecords).toBe(100);
    expect(parseServerConfig({ KAFKA_MAX_BATCH_RECORDS: '200' }).process.kafkaMaxBatchRecords).toBe(200);
    expect(() => parseServerConfig({ KAFKA_MAX_BATCH_RECORDS: '0' })).toThrow(/KAFKA_MAX_BATCH_RECORDS="0"/);
  });

  it('rejects a session timeout under one second', () => {
    expect(() => parseServerConfig({ KAFKA_SESSION_TIMEOUT_MS: '999' })).toThrow(/KAFKA_SESSION_TIMEOUT_MS="999"/);
  });

  it('accepts redis and rediss URLs', () => {
    expect(parseServerConfig({ REDIS_URL: 'redis://:pw@127.0.0.1:6390/2' }).process.redisUrl).toBe('redis://:pw@127.0.0.1:6390/2');
    expect(parseServerConfig({ REDIS_URL: 'rediss://cache.internal:6380' }).process.redisUrl).toBe('rediss://cache.internal:6380');
  });

  it('rejects a REDIS_URL of another scheme', () => {
    expect(() => parseServerConfig({ REDIS_URL: 'notaurl://x' })).toThrow(/REDIS_URL="notaurl:\/\/x": is not a Redis URL; write it as redis:\/\//);
  });

  it.each([
    ['redis://127.0.0.1:6390/abc', 'has the database "abc" in its path, which is not a whole number; write the database number in plain digits'],
    ['redis://127.0.0.1:6390/-1', 'has the database "-1" in its path, which is not a whole number'],
    ['redis://127.0.0.1:6390/2abc', 'has the database "2abc" in its path, which is not a whole number'],
    ['redis://127.0.0.1:6390/01', 'has the database "01" in its path, which is not a whole number'],
    ['redis://127.0.0.1:6390/1/2', 'has the database "1/2" in its path, which is not a whole number'],
    ['redis://127.0.0.1:6390/2147483647', 'has the database 2147483647, above the maximum 2147483646'],
    ['redis://127.0.0.1:6390/0?db=5', 'sets the database with ?db=; put the database number in the path instead'],
    ['redis://127.0.0.1:6390?db=5', 'sets the database with ?db=; put the database number in the path instead'],
  ])('rejects the REDIS_URL database in %s', (url, message) => {
    expect(configErrorOf({ REDIS_URL: url })).toContain(`REDIS_URL=${JSON.stringify(url)}: ${message}`);
  });

  it('accepts a REDIS_URL with or without a database', () => {
    expect(parseServerConfig({ REDIS_URL: 'redis://127.0.0.1:6390' }).process.redisUrl).toBe('redis://127.0.0.1:6390');
    expect(parseServerConfig({ REDIS_URL: 'redis://127.0.0.1:6390/' }).process.redisUrl).toBe('redis://127.0.0.1:6390/');
    expect(parseServerConfig({ REDIS_URL: 'redis://127.0.0.1:6390/2147483646' }).process.redisUrl).toBe('redis://127.0.0.1:6390/2147483646');
  });

  it('rejects a blank REDIS_URL as blank', () => {
    expect(configErrorOf({ REDIS_URL: '  ' })).toBe(
      'invalid configuration:\n  REDIS_URL="  ": is blank; write a Redis URL such as redis://127.0.0.1:6379/0, or leave REDIS_URL empty for the in-memory store',
    );
  });

  it('hides the password of a malformed REDIS_URL', () => {
    const message = (() => {
      try {
        parseServerConfig({ REDIS_URL: 'redis//:hunter2@cache:6379' });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain('REDIS_URL="redis//:[redacted]@cache:6379"');
    expect(message).not.toContain('hunter2');
  });

  it('hides an invalid ADMIN_TOKEN', () => {
    expect(() => parseServerConfig({ ADMIN_TOKEN: 'short-secret' })).toThrow(/ADMIN_TOKEN=\[redacted\]: must be empty/);
  });
});
