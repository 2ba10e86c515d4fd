import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'models/train/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start private Redis servers and mock Kafka clusters, and a Kafka consumer
    // group takes about 3 s to form against the mock, so hooks and tests get generous limits.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
