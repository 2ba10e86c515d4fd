import { describe, expect, it } from 'vitest';
import { ConfigError, parseServerConfig } from '../src/index';

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
    const config = parseServerConfig({ KAFKA_BROKERS: 'a:9092, b:9092,' });
    expect(config.process.kafkaBrokers).toEqual(['a:9092', 'b:9092']);
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
    ['PORT', 'eighty', 'PORT="eighty": is not a number; write digits only, such as 100'],
    ['LIVE_DEBOUNCE_MS', '1.5', 'LIVE_DEBOUNCE_MS="1.5": is not a whole number'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL="loud": is not an accepted value; use one of fatal, error, warn, info'],
    ['POOL_REFRESH_INTERVAL_MS', '5', 'POOL_REFRESH_INTERVAL_MS="5": is below the minimum; use at least 50'],
    ['MAX_CANDIDATES', '99999', 'MAX_CANDIDATES="99999": is above the maximum; use at most 5000'],
  ])('words an invalid %s with its fix', (name, value, message) => {
    expect(() => parseServerConfig({ [name]: value })).toThrow(message);
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
