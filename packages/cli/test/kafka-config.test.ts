import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../src/index';
import { configErrorOf } from './config-errors';

describe('KAFKA_BROKERS', () => {
  it('splits the broker list', () => {
    const config = parseServerConfig({ KAFKA_BROKERS: '10.0.0.5:9092, kafka-1:19092,kafka-2:1' });
    expect(config.process.kafkaBrokers).toEqual(['10.0.0.5:9092', 'kafka-1:19092', 'kafka-2:1']);
  });

  it('keeps the in-process bus when empty', () => {
    expect(parseServerConfig({ KAFKA_BROKERS: '' }).process.kafkaBrokers).toEqual([]);
    expect(parseServerConfig({}).process.kafkaBrokers).toEqual([]);
  });

  it.each([',', ' , ', 'a:9092,', ',a:9092', 'a:9092,,b:9092'])('rejects the empty entry in %j', (value) => {
    expect(configErrorOf({ KAFKA_BROKERS: value })).toContain(`KAFKA_BROKERS=${JSON.stringify(value)}: has an empty entry; remove the extra comma`);
  });

  it('rejects a blank value', () => {
    expect(configErrorOf({ KAFKA_BROKERS: '  ' })).toContain(
      'KAFKA_BROKERS="  ": is blank; list host:port addresses such as 10.0.0.5:9092, or leave KAFKA_BROKERS empty for the in-process bus',
    );
  });

  it('rejects a broker without a port', () => {
    expect(configErrorOf({ KAFKA_BROKERS: 'nohostport' })).toContain(
      'KAFKA_BROKERS="nohostport": broker "nohostport" is not a host:port address; write it like 10.0.0.5:9092',
    );
  });

  it.each(['127.0.0.1:99999', '127.0.0.1:0', 'kafka:65536'])('rejects the port of %s', (broker) => {
    const port = broker.slice(broker.lastIndexOf(':') + 1);
    expect(configErrorOf({ KAFKA_BROKERS: broker })).toContain(`KAFKA_BROKERS="${broker}": broker "${broker}" has port ${port}, outside 1 to 65535`);
  });

  it('accepts the highest port', () => {
    expect(parseServerConfig({ KAFKA_BROKERS: 'kafka:65535' }).process.kafkaBrokers).toEqual(['kafka:65535']);
  });

  it('rejects an IPv6 literal that kafkajs cannot reach', () => {
    expect(configErrorOf({ KAFKA_BROKERS: '[::1]:9092' })).toContain('broker "[::1]:9092" is an IPv6 literal, which kafkajs 2.2.4 cannot connect to');
  });

  it('names every invalid broker', () => {
    const message = configErrorOf({ KAFKA_BROKERS: 'nohostport,127.0.0.1:99999' });
    expect(message).toContain('broker "nohostport" is not a host:port address');
    expect(message).toContain('broker "127.0.0.1:99999" has port 99999');
  });
});

describe('TOPIC_PREFIX', () => {
  it('accepts the characters of Kafka topic names', () => {
    expect(parseServerConfig({ TOPIC_PREFIX: 'prod-eu_1.a' }).ingest.topicPrefix).toBe('prod-eu_1.a');
    expect(parseServerConfig({}).ingest.topicPrefix).toBe('');
  });

  it('rejects characters that Kafka does not allow', () => {
    expect(configErrorOf({ TOPIC_PREFIX: 'bad topic!' })).toContain(
      'TOPIC_PREFIX="bad topic!": contains " ", "!", which Kafka does not allow in a topic name; use only a-z, A-Z, 0-9, ".", "_" and "-"',
    );
    expect(configErrorOf({ TOPIC_PREFIX: 'team/feeds' })).toContain('TOPIC_PREFIX="team/feeds": contains "/"');
  });

  it('allows a prefix that keeps every topic within 249 characters', () => {
    // `.interactions.dlq` is the longest suffix: 17 characters, so 232 remain for the prefix.
    expect(parseServerConfig({ TOPIC_PREFIX: 'p'.repeat(232) }).ingest.topicPrefix).toHaveLength(232);
    expect(configErrorOf({ TOPIC_PREFIX: 'p'.repeat(233) })).toContain(
      'is 233 characters long, so the topic "<prefix>.interactions.dlq" would exceed Kafka\'s limit of 249 characters; use at most 232',
    );
  });
});

describe('Kafka settings with other problems', () => {
  it('lists every problem in one error', () => {
    const message = configErrorOf({ KAFKA_BROKERS: 'nohostport', TOPIC_PREFIX: 'bad topic!', PORT: 'eighty' });
    expect(message).toMatch(/^invalid configuration:\n/);
    expect(message).toContain('KAFKA_BROKERS="nohostport"');
    expect(message).toContain('TOPIC_PREFIX="bad topic!"');
    expect(message).toContain('PORT="eighty"');
  });
});
