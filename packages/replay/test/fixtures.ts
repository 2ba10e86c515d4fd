import type { CatalogItem, Interaction } from '@nexttap/events';
import { readMovieLensInput, type ReplayInput } from '../src/index';

/** Start of the hand-built logs: 2024-01-01T00:00:00Z in epoch ms. */
export const T0 = Date.UTC(2024, 0, 1);

export const MOVIELENS_DIR = new URL('../../../data/movielens', import.meta.url).pathname;
export const MODEL_DIR = new URL('../../../models/movielens-mlp/1', import.meta.url).pathname;

let eventCounter = 0;

/** Builds an interaction with a fresh event id; `seconds` counts from `T0`. */
export function event(type: Interaction['type'], sessionId: string, itemId: string, seconds: number, extra: Partial<Interaction> = {}): Interaction {
  eventCounter += 1;
  return { eventId: `e${eventCounter}`, type, ts: T0 + seconds * 1000, sessionId, itemId, ...extra };
}

/** Builds a catalog item published a year before `T0`. */
export function item(itemId: string, categories: string[]): CatalogItem {
  return { itemId, categories, publishedAt: T0 - 365 * 86_400_000 };
}

export function jsonlInput(events: Interaction[], catalog: CatalogItem[]): ReplayInput {
  return { source: { kind: 'jsonl', eventFiles: ['hand-built'], catalogFiles: [] }, catalog, events, rejected: { count: 0, byCode: {} } };
}

const slices = new Map<number, Promise<ReplayInput>>();

/** Reads the earliest `limit` MovieLens ratings with the whole catalog, once per test file. */
export function movieLensSlice(limit: number): Promise<ReplayInput> {
  let slice = slices.get(limit);
  if (slice === undefined) {
    slice = readMovieLensInput(MOVIELENS_DIR, limit);
    slices.set(limit, slice);
  }
  return slice;
}

/** Returns a copy of `values` in a seeded random order (Fisher–Yates with a linear congruential generator). */
export function shuffled<T>(values: readonly T[], seed: number): T[] {
  const copy = [...values];
  let state = seed >>> 0;
  for (let index = copy.length - 1; index > 0; index--) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    const pick = state % (index + 1);
    [copy[index], copy[pick]] = [copy[pick] as T, copy[index] as T];
  }
  return copy;
}
