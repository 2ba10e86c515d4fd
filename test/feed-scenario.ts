import { readMovieLensCatalog, readMovieLensEvents } from '@nexttap/movielens';
import type { CatalogItem, Interaction } from '@nexttap/events';
import { expect } from 'vitest';

export const MOVIELENS_DIR = new URL('../data/movielens', import.meta.url).pathname;
export const MODEL_DIR = new URL('../models/movielens-mlp/1', import.meta.url).pathname;

export interface FeedItem {
  itemId: string;
  position: number;
  score: number;
  sources: string[];
}

export interface FeedBody {
  feedId: string;
  model: { name: string; version: string };
  items: FeedItem[];
}

/** The MovieLens data the scenarios share, with the history shifted to end a minute before `nowMs`. */
export async function loadMovieLens(nowMs: number): Promise<{ catalog: CatalogItem[]; events: Interaction[] }> {
  const catalog = await readMovieLensCatalog(MOVIELENS_DIR);
  const events = await readMovieLensEvents(MOVIELENS_DIR, { shiftToMs: nowMs - 60_000 });
  return { catalog, events };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests assert on any shape of reply body
export async function postJson(baseUrl: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

export async function requestFeed(baseUrl: string, sessionId: string, limit = 20): Promise<FeedBody> {
  const { status, body } = await postJson(baseUrl, '/v1/feed', { sessionId, limit });
  expect(status).toBe(200);
  return body as FeedBody;
}

/** Returns the `count` items of a category with the most likes in the history. */
export function mostLikedInCategory(catalog: readonly CatalogItem[], events: readonly Interaction[], category: string, count: number): string[] {
  const inCategory = new Set(catalog.filter((item) => item.categories.includes(category)).map((item) => item.itemId));
  const likes = new Map<string, number>();
  for (const event of events) {
    if (event.type === 'like' && inCategory.has(event.itemId)) {
      likes.set(event.itemId, (likes.get(event.itemId) ?? 0) + 1);
    }
  }
  return [...likes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, count).map(([itemId]) => itemId);
}

/**
 * Checks that a feed follows a session's taps: the session likes items of a category that its feed
 * barely shows, then the liked items leave the feed and the category's share of it rises.
 */
export async function expectFeedFollowsTaps(baseUrl: string, catalog: readonly CatalogItem[], history: readonly Interaction[], nowMs: () => number): Promise<void> {
  const categoriesOf = new Map(catalog.map((item) => [item.itemId, item.categories]));
  const sessionId = `scenario-${Math.random().toString(36).slice(2)}`;
  const category = 'Horror';
  const countCategory = (feed: FeedBody) => feed.items.filter((item) => categoriesOf.get(item.itemId)?.includes(category)).length;

  const before = await requestFeed(baseUrl, sessionId);
  expect(before.items).toHaveLength(20);
  const categoryBefore = countCategory(before);

  const liked = mostLikedInCategory(catalog, history, category, 3);
  expect(liked).toHaveLength(3);
  const events = liked.map((itemId, index) => ({
    eventId: `${sessionId}-like-${index}`,
    type: 'like',
    ts: nowMs() - 1_000 + index,
    sessionId,
    itemId,
  }));
  const accepted = await postJson(baseUrl, '/v1/events', { events });
  expect(accepted.status).toBe(202);
  expect(accepted.body).toEqual({ accepted: 3, rejected: [] });

  await expect
    .poll(
      async () => {
        const after = await requestFeed(baseUrl, sessionId);
        const itemIds = after.items.map((item) => item.itemId);
        const categoryCount = countCategory(after);
        return {
          likedStillShown: liked.filter((itemId) => itemIds.includes(itemId)),
          categoryRose: categoryCount >= Math.max(categoryBefore + 5, 10),
          categoryBefore,
          categoryCount,
        };
      },
      { timeout: 30_000, interval: 100 },
    )
    .toMatchObject({ likedStillShown: [], categoryRose: true });
}
