import { readMovieLensInput } from '@nexttap/replay';
import { applyInteractions, applyCatalogItems } from '@nexttap/features';
import { MemoryFeatureStore } from '@nexttap/store';
const input = await readMovieLensInput(new URL('../data/movielens', import.meta.url).pathname);
const events = [...input.events].sort((a, b) => a.ts - b.ts);
let clock = 0;
const store = new MemoryFeatureStore({ now: () => clock, sweepIntervalMs: 0 });
await applyCatalogItems(store, input.catalog);
const t = process.cpuUsage();
for (let i = 0; i < events.length; i += 30) {
  const batch = events.slice(i, i + 30);
  clock = batch[batch.length - 1]!.ts;
  await applyInteractions(store, batch);
  if (i % 9990 === 0) store.sweepExpired();
}
const c = process.cpuUsage(t);
console.log('apply CPU s', ((c.user + c.system) / 1e6).toFixed(2), 'µs/event', ((c.user + c.system) / events.length).toFixed(1));
process.exit(0);
