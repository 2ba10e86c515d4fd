import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Creates a registry with the process metrics (memory, event loop lag, GC) already collected. */
export function createMetricsRegistry(prefix = 'nexttap_'): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

/** Latency buckets in seconds for request-path work: 0.25 ms to 1 s. */
export const LATENCY_BUCKETS_SECONDS = [0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1];

export { Counter, Histogram, Registry };
