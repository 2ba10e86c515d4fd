/**
 * Measures the process CPU time of the feed's feature step alone: reading 200 candidates through
 * an `ItemCache` (`readItemsCached`) and building the bundled model's feature matrix, then reading
 * each snapshot's catalog facts, impressions and taps as the feed rules do. The store is a memory
 * store seeded with the MovieLens history. Whole feed requests on a shared machine vary by more
 * than this step costs, so two commits are compared with this script, run at the same time on
 * separate cores.
 *
 * Run: `npx tsx bench/feature-matrix-cpu.ts`. `CACHE` sets the cache: `hit` (default) keeps every
 * item fresh, `mixed` uses the ranker's default max age of 1 s with the clock moving 5 ms per
 * request, so some items are read again. `REQUESTS` (default 3,000) sets the measured requests.
 */
import { applyCatalogItems, applyInteractions, buildFeatureMatrix, readSessionSnapshot, type SessionSnapshot, type UserSnapshot } from '@nexttap/features';
import { loadRankingModel } from '@nexttap/model';
import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import { ItemCache, readItemsCached, seededRandom, UNLIMITED_STORE_BUDGET } from '@nexttap/rank';
import { MemoryFeatureStore } from '@nexttap/store';
import { MODEL_DIR, MOVIELENS_DIR } from './ranker-config';

const CACHE = process.env.CACHE ?? 'hit';
const REQUESTS = Number(process.env.REQUESTS ?? 3_000);
const CANDIDATES = 200;
const VARIANTS = 200;
/** Requests sent before measuring, so that the JIT and the cache are warm. */
const WARM_UP_REQUESTS = 1_000;
const SAMPLES = 5;
const SEED_CHUNK = 2_000;

if (CACHE !== 'hit' && CACHE !== 'mixed') {
  throw new Error(`CACHE is ${CACHE}; set it to hit or mixed`);
}
const nowMs = Date.parse('2026-03-01T12:00:00Z');
const model = await loadRankingModel(MODEL_DIR);
const store = new MemoryFeatureStore({ sweepIntervalMs: 0 });
const catalog = await readMovieLensCatalog(MOVIELENS_DIR);
await applyCatalogItems(store, catalog);
const events = await readMovieLensEvents(MOVIELENS_DIR, { shiftToMs: nowMs - 600_000 });
for (let start = 0; start < events.length; start += SEED_CHUNK) {
  await applyInteractions(store, events.slice(start, start + SEED_CHUNK));
}

const itemIds = catalog.map((item) => item.itemId);
const random = seededRandom(7);
const bodies = Array.from({ length: VARIANTS }, () => {
  const chosen = new Set<string>();
  while (chosen.size < CANDIDATES) {
    chosen.add(itemIds[Math.floor(random() * itemIds.length)] as string);
  }
  return [...chosen];
});
const states: Array<{ session: SessionSnapshot; user: UserSnapshot | undefined }> = [];
for (let index = 0; index < VARIANTS; index++) {
  states.push(await readSessionSnapshot(store, `${index + 1}-bench`, String(index + 1), nowMs));
}
const cache = new ItemCache({ maxAgeMs: CACHE === 'hit' ? 3_600_000 : 1_000 });
const stepMs = CACHE === 'hit' ? 1 : 5;
let request = 0;
/** Sum of values read, printed so that no step can be dropped as unused. */
let checksum = 0;

/** Returns the CPU ms per request of the read and of the matrix with the rules' reads. */
async function measure(requests: number): Promise<{ readMs: number; matrixMs: number }> {
  let readUs = 0;
  let matrixUs = 0;
  for (let count = 0; count < requests; count++, request++) {
    const { session, user } = states[request % VARIANTS] as { session: SessionSnapshot; user: UserSnapshot | undefined };
    const requestMs = nowMs + request * stepMs;
    const started = process.cpuUsage();
    const items = await readItemsCached(store, cache, bodies[request % VARIANTS] as string[], requestMs, UNLIMITED_STORE_BUDGET, session);
    const read = process.cpuUsage(started);
    const matrix = buildFeatureMatrix(model.features, session, user, items, requestMs);
    for (const item of items) {
      checksum += (item.facts?.categoryNumbers[0] ?? 0) + item.impressions + item.taps;
    }
    const total = process.cpuUsage(started);
    checksum += matrix.data[0] ?? 0;
    readUs += read.user + read.system;
    matrixUs += total.user + total.system - read.user - read.system;
  }
  return { readMs: readUs / 1_000 / requests, matrixMs: matrixUs / 1_000 / requests };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[Math.floor((sorted.length - 1) / 2)] as number) + (sorted[Math.ceil((sorted.length - 1) / 2)] as number)) / 2;
}

await measure(WARM_UP_REQUESTS);
const samples: Array<{ readMs: number; matrixMs: number }> = [];
for (let sample = 0; sample < SAMPLES; sample++) {
  samples.push(await measure(Math.ceil(REQUESTS / SAMPLES)));
}
const readMs = median(samples.map((sample) => sample.readMs));
const matrixMs = median(samples.map((sample) => sample.matrixMs));
process.stdout.write(
  `cache ${CACHE}, ${CANDIDATES} candidates: CPU ms per request, read ${readMs.toFixed(3)}, matrix and rule reads ${matrixMs.toFixed(3)} ` +
    `(samples ${samples.map((sample) => `${sample.readMs.toFixed(3)}/${sample.matrixMs.toFixed(3)}`).join(' ')}; checksum ${checksum.toFixed(0)})\n`,
);
