/**
 * Measures the heap that the in-memory store takes per served feed and per session, and compares
 * it with the store's own estimate (`estimatedBytes`), which the memory limit uses.
 *
 *   node --expose-gc --import tsx bench/memory-store-heap.ts [count]
 *
 * Heap is `heapUsed + arrayBuffers` of process.memoryUsage() after a forced GC, because packed item
 * records keep their values in ArrayBuffers outside the JS heap.
 */
import type { Interaction, InteractionType } from '@nexttap/events';
import { applyCatalogItems, applyInteractions } from '@nexttap/features';
import { readMovieLensCatalog } from '@nexttap/movielens';
import { planServedFeed, type RankingEntry } from '@nexttap/rank';
import { MemoryFeatureStore } from '@nexttap/store';

const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
const NOW_MS = Date.UTC(2026, 0, 1);
/** The ranker's defaults: RANKING_DEPTH 200, a first page of 20, DROP_SERVED_FEEDS 3. */
const RANKING_DEPTH = 200;
const PAGE_SIZE = 20;
const SERVED_HISTORY_LENGTH = 3;
const EVENTS_PER_SESSION = 10;
const EVENT_TYPES: readonly InteractionType[] = ['impression', 'impression', 'impression', 'impression', 'impression', 'impression', 'tap', 'tap', 'play', 'impression'];

interface Measurement {
  family: string;
  count: number;
  measuredBytesEach: number;
  estimatedBytesEach: number;
}

function heapBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    throw new Error('global.gc is missing; run with node --expose-gc --import tsx bench/memory-store-heap.ts');
  }
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function rankingOf(itemIds: readonly string[], seed: number): RankingEntry[] {
  return Array.from({ length: RANKING_DEPTH }, (_, index) => ({
    itemId: itemIds[(seed * 7 + index * 13) % itemIds.length] as string,
    score: 1 - index / RANKING_DEPTH + (seed % 97) * 1e-6,
    sources: index % 3 === 0 ? ['popular', 'covisit'] : ['trending'],
    rules: index === 3 ? [{ rule: 'exploration', from: 40, to: 3 }] : [],
  }));
}

async function measureFeeds(store: MemoryFeatureStore, itemIds: readonly string[], count: number): Promise<Measurement> {
  const heapBefore = heapBytes();
  const estimateBefore = store.estimatedBytes ?? 0;
  for (let index = 0; index < count; index++) {
    const ranking = rankingOf(itemIds, index);
    await store.apply([
      planServedFeed({
        sessionId: `feed-session-${index}`,
        feedId: `feed-${index}-0123456789abcdef`,
        offset: 0,
        servedItemIds: ranking.slice(0, PAGE_SIZE).map((entry) => entry.itemId),
        first: { model: 'movielens-mlp@1', variant: 'control', createdAtMs: NOW_MS, userId: `user-${index}`, ranking },
        countAsServed: true,
        ttlMs: 86_400_000,
        servedHistoryLength: SERVED_HISTORY_LENGTH,
      }),
    ]);
  }
  return summarize('served feed (record and served history)', count, heapBefore, estimateBefore, store);
}

async function applySessions(store: MemoryFeatureStore, itemIds: readonly string[], first: number, count: number): Promise<void> {
  for (let session = first; session < first + count; session++) {
    const events: Interaction[] = EVENT_TYPES.map((type, index) => ({
      eventId: `event-${session}-${index}`,
      type,
      ts: NOW_MS + session * 1_000 + index * 100,
      sessionId: `session-${session}`,
      userId: `user-${session}`,
      itemId: itemIds[(session * 31 + index * 17) % itemIds.length] as string,
    }));
    await applyInteractions(store, events);
  }
}

async function measureSessions(store: MemoryFeatureStore, itemIds: readonly string[], count: number): Promise<Measurement> {
  // Sessions first warm up the item keys (co-visitation, counters), which follow the catalog, not the sessions.
  await applySessions(store, itemIds, 0, count);
  const heapBefore = heapBytes();
  const estimateBefore = store.estimatedBytes ?? 0;
  await applySessions(store, itemIds, count, count);
  return summarize(`session of ${EVENTS_PER_SESSION} events (session, user and dedup keys)`, count, heapBefore, estimateBefore, store);
}

function summarize(family: string, count: number, heapBefore: number, estimateBefore: number, store: MemoryFeatureStore): Measurement {
  return {
    family,
    count,
    measuredBytesEach: Math.round((heapBytes() - heapBefore) / count),
    estimatedBytesEach: Math.round(((store.estimatedBytes ?? 0) - estimateBefore) / count),
  };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 20_000);
  const catalog = await readMovieLensCatalog(MOVIELENS_DIR);
  // Parsed again, so that the ids are strings of their own, as ids parsed from a request or an event
  // are. As parts of the CSV text they would take two bytes a character, because V8 stores that
  // text so: some titles have characters beyond Latin-1.
  const itemIds = JSON.parse(JSON.stringify(catalog.map((item) => item.itemId))) as string[];
  const results: Measurement[] = [];
  // Served feeds go to an empty store. Sessions need the catalog, whose keys would otherwise move
  // the points at which the store's Map doubles its table, a step of up to 32 bytes per key.
  const feedStore = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0, maxBytes: Number.MAX_SAFE_INTEGER });
  results.push(await measureFeeds(feedStore, itemIds, count));
  await feedStore.close();
  const sessionStore = new MemoryFeatureStore({ now: () => NOW_MS, sweepIntervalMs: 0, maxBytes: Number.MAX_SAFE_INTEGER });
  await applyCatalogItems(sessionStore, catalog);
  results.push(await measureSessions(sessionStore, itemIds, count));
  await sessionStore.close();
  for (const result of results) {
    const errorPercent = ((result.estimatedBytesEach - result.measuredBytesEach) / result.measuredBytesEach) * 100;
    process.stdout.write(
      `${result.family}: ${result.count} measured ${result.measuredBytesEach} B each, estimated ${result.estimatedBytesEach} B each (${errorPercent.toFixed(1)} %)\n`,
    );
  }
}

await main();
