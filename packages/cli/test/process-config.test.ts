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

  it('freezes the result', () => {
    const config = parseServerConfig({});
    expect(Object.isFrozen(config.process)).toBe(true);
    expect(Object.isFrozen(config.process.kafkaBrokers)).toBe(true);
  });
});
