// Runs the benchmarks and prints Markdown tables for docs/benchmarks.md.
// Usage: npm run bench [-- --events N --seconds S]
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { OWN_CORE } from './core-pinning';
import { benchFeedLatency } from './feed-latency';
import { benchFeedRulesLatency, OWN_CORE_RUNS } from './feed-rules-latency';
import { benchReplayThroughput } from './replay-throughput';
import { benchIngest } from './ingest-freshness';
import { benchMemoryUsage } from './memory-usage';
import { benchWriteThroughput } from './write-throughput';

const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' }, seconds: { type: 'string', default: '10' } } });

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}\n`);

console.log('| feature store | timeline | batches in flight | events | events/s | Node CPU µs/event | Redis CPU µs/event |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of await benchWriteThroughput(Number(values.events))) {
  console.log(`| ${r.store} | ${r.timeline} | ${r.batchesInFlight} | ${r.events} | ${r.eventsPerSecond} | ${r.nodeCpuMicrosPerEvent} | ${r.redisCpuMicrosPerEvent ?? '-'} |`);
}

console.log('\n| ingest through the mock Kafka cluster and Redis | start s (group join) | events | events/s | freshness p50 ms | freshness p99 ms | Node CPU µs/event | Redis CPU µs/event |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
const ingestResults = await benchIngest(Number(values.events), 10_000, Number(values.seconds));
for (const result of ingestResults) {
  console.log(
    `| ${result.scenario} | ${result.startSeconds ?? '-'} | ${result.events} | ${result.eventsPerSecond} | ${result.freshnessP50Ms ?? '-'} | ${result.freshnessP99Ms ?? '-'} | ${result.nodeCpuMicrosPerEvent} | ${result.redisCpuMicrosPerEvent} |`,
  );
}
for (const { scenario, stages } of ingestResults) {
  if (stages !== undefined) {
    const stageNames = Object.keys(stages.meanMsByStage);
    console.log(`\n| ingest stages, ${scenario} | records per batch | ${stageNames.map((stage) => `${stage} ms`).join(' | ')} |`);
    console.log(`| --- | --- | ${stageNames.map(() => '---').join(' | ')} |`);
    console.log(`| mean per batch | ${stages.meanBatchRecords} | ${stageNames.map((stage) => stages.meanMsByStage[stage]).join(' | ')} |`);
  }
}

console.log('\n| Redis memory | count | mean bytes |');
console.log('| --- | --- | --- |');
for (const result of await benchMemoryUsage()) {
  console.log(`| ${result.family} | ${result.entities} | ${result.meanBytes} |`);
}

console.log('\n| feature store | connections | feeds/s | p50 ms | p99 ms | errors |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const result of await benchFeedLatency(Number(values.seconds))) {
  console.log(`| ${result.store} | ${result.connections} | ${result.requestsPerSecond} | ${result.p50Ms} | ${result.p99Ms} | ${result.errors} |`);
}
console.log('\n| route | store | candidates | target req/s | autocannon: achieved req/s | p50 ms | p99 ms | errors | paced: achieved req/s | p50 ms | p99 ms | max ms | errors | degraded | CPU ms per request |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
const feedRows = await benchFeedRulesLatency(Number(values.seconds));
for (const r of feedRows) {
  const { paced } = r;
  console.log(
    `| ${r.route} | ${r.store} | ${r.candidates} | ${r.targetRate} | ${r.achievedRate} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${paced.achievedRate} | ${paced.p50Ms} | ${paced.p99Ms} | ${paced.maxMs} | ${paced.errors} | ${r.degraded} | ${r.cpuMsPerRequest} |`,
  );
}
console.log(
  `\n| paced, server's event loop on core ${OWN_CORE.server}, load generator and redis-server on core ${OWN_CORE.load}, ${OWN_CORE_RUNS} runs | store | candidates | target req/s | achieved req/s, lowest run | p50 ms, median run | p99 ms, median run | p99 ms of each run | max ms | errors |`,
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of feedRows) {
  const runs = r.ownCore;
  console.log(
    runs.length === 0
      ? `| ${r.route} | ${r.store} | ${r.candidates} | ${r.targetRate} | not measured: taskset missing or one core | | | | | |`
      : `| ${r.route} | ${r.store} | ${r.candidates} | ${r.targetRate} | ${Math.min(...runs.map((run) => run.achievedRate))} | ${median(runs.map((run) => run.p50Ms))} | ${median(runs.map((run) => run.p99Ms))} | ${runs.map((run) => run.p99Ms).join(' / ')} | ${Math.max(...runs.map((run) => run.maxMs))} | ${runs.reduce((sum, run) => sum + run.errors, 0)} |`,
  );
}

console.log(`\n${await benchReplayThroughput()}`);
process.exit(0);

/** Returns the median of `values`, the lower of the two middle values for an even count. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}
