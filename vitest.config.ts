import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'models/train/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start private Redis servers and mock Kafka clusters, and a Kafka consumer
    // group takes about 3 s to form against the mock, so hooks and tests get generous limits.
    testTimeout: 60_000,
    // Polls wait for ingest and Kafka, which take milliseconds on an idle machine and seconds on a
    // loaded CI machine; a poll fails only when the state never arrives.
    expect: { poll: { timeout: 15_000, interval: 50 } },
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
