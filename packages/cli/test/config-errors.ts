import { expect } from 'vitest';
import { ConfigError, parseServerConfig } from '../src/index';

/** Returns the message of the ConfigError that parsing `environment` throws, and fails the test when it parses. */
export function configErrorOf(environment: Record<string, string>): string {
  try {
    parseServerConfig(environment);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`parseServerConfig accepted ${JSON.stringify(environment)}`);
}
