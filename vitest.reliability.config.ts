import { defineConfig } from 'vitest/config';

/**
 * The fault runs: crashes, rebalances, outages and shutdown under load, each against a private
 * Redis and a mock Kafka cluster. They take minutes, so `npm test` leaves them out and
 * `npm run test:reliability` runs them one file at a time, each with the machine to itself.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/*.reliability.ts'],
    // The slowest run took about 3 minutes on a 2-core machine shared with other work. A run that
    // hangs fails after 10 minutes, so it cannot hold CI until its own limit.
    testTimeout: 10 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
