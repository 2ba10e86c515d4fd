// Runs the benchmarks and prints Markdown tables for docs/benchmarks.md.
// Usage: npm run bench [-- --events N --seconds S]
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { benchFeedLatency } from './feed-latency';
import { benchWriteThroughput } from './write-throughput';

const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' }, seconds: { type: 'string', default: '10' } } });

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}\n`);

console.log('| feature store | timeline | events | events/s |');
console.log('| --- | --- | --- | --- |');
for (const result of await benchWriteThroughput(Number(values.events))) {
  console.log(`| ${result.store} | ${result.timeline} | ${result.events} | ${result.eventsPerSecond} |`);
}

console.log('\n| feature store | connections | feeds/s | p50 ms | p99 ms | errors |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const result of await benchFeedLatency(Number(values.seconds))) {
  console.log(`| ${result.store} | ${result.connections} | ${result.requestsPerSecond} | ${result.p50Ms} | ${result.p99Ms} | ${result.errors} |`);
}
process.exit(0);
