import type { ItemSnapshot } from '@nexttap/features';
import { fallbackFeed } from './fallback-feed';
import { DEFAULT_FEED_RULES } from './feed-rules';
import { explainItems, storeDegradation, type FeedItem, type FeedQuery, type RankContext, type RankedFeed } from './rank-feed';
import { parseServedFeed, servedFeedRequest, type ServedFeedRecord } from './served-feeds';
import { UNLIMITED_STORE_BUDGET } from './store-budget';
import { readItems, readSessionWith } from './store-reads';

/** The served feed a cursor points to has expired or was never stored. */
/** A cursor's offset is at or past the end of its feed's stored ranking, where the ranker issues no cursor. */
export class CursorOffsetError extends Error {
  override readonly name = 'CursorOffsetError';

  constructor(
    readonly feedId: string,
    readonly offset: number,
    readonly rankingLength: number,
  ) {
    super(`the cursor's offset ${offset} is past the end of feed ${feedId}, whose ranking has ${rankingLength} items`);
  }
}

export class ServedFeedNotFoundError extends Error {
  override readonly name = 'ServedFeedNotFoundError';

  constructor(
    readonly sessionId: string,
    readonly feedId: string,
  ) {
    super(`feed ${feedId} of session ${sessionId} has expired or was never served`);
  }
}

/**
 * A next page was requested for another user than its first page: with a userId when the first
 * page had none, without one when it had one, or with a different one. The page would skip the
 * wrong user's engaged items and the request would be assigned a model variant for another user.
 */
export class CursorUserMismatchError extends Error {
  override readonly name = 'CursorUserMismatchError';

  constructor(
    readonly feedId: string,
    /** The userId of the next page's request, or undefined when it has none. */
    readonly requestUserId: string | undefined,
    /** Whether the first page was requested with a userId. */
    readonly firstPageHadUserId: boolean,
  ) {
    super(describeUserMismatch(requestUserId, firstPageHadUserId));
  }
}

/** Explains a userId that differs from the first page's, without repeating the stored userId. */
function describeUserMismatch(requestUserId: string | undefined, firstPageHadUserId: boolean): string {
  if (requestUserId === undefined) {
    return 'userId is missing, but the first page of this feed was ranked for a userId; send the same userId with the cursor';
  }
  if (!firstPageHadUserId) {
    return `userId ${JSON.stringify(requestUserId)} was not sent with the first page of this feed; leave userId out with this cursor, or leave cursor out to rank a first page for this user`;
  }
  return `userId ${JSON.stringify(requestUserId)} is not the userId of the first page of this feed; send the first page's userId with the cursor, or leave cursor out to rank a first page for this user`;
}

export interface PageQuery extends FeedQuery {
  feedId: string;
  offset: number;
}

export interface NextPage extends RankedFeed {
  /** The stored feed the page was cut from; undefined when the page was degraded. */
  record: ServedFeedRecord | undefined;
}

/**
 * Serves the next page of a stored ranking: the session and the feed's record in one round trip,
 * then the page items' features in a second one. Items the session engaged with since, and
 * excluded items, are skipped, so no item is served twice. Rejects with ServedFeedNotFoundError when
 * the record has expired, and with CursorUserMismatchError when the query's userId is not the first
 * page's. A store failure degrades to the pool copy as `rankFeed` does.
 */
export async function rankNextPage(query: PageQuery, context: RankContext): Promise<NextPage> {
  try {
    return await pageFromStore(query, context);
  } catch (error) {
    const degradation = storeDegradation(error);
    if (degradation === undefined) {
      throw error;
    }
    return { ...fallbackFeed(query, context.pools, context.rules ?? DEFAULT_FEED_RULES, degradation), record: undefined };
  }
}

async function pageFromStore(query: PageQuery, context: RankContext): Promise<NextPage> {
  const rules = context.rules ?? DEFAULT_FEED_RULES;
  const budget = context.budget ?? UNLIMITED_STORE_BUDGET;
  const state = await readSessionWith(context.store, query.sessionId, query.userId, context.nowMs, [servedFeedRequest(query.sessionId, query.feedId)], budget);
  const record = parseServedFeed(query.feedId, state.extra[0]);
  if (record === undefined) {
    throw new ServedFeedNotFoundError(query.sessionId, query.feedId);
  }
  // Records written before the userId was stored have none to compare, and are served as before.
  if (record.userId !== undefined && record.userId !== (query.userId ?? null)) {
    throw new CursorUserMismatchError(query.feedId, query.userId, record.userId !== null);
  }
  // A next page starts before the end of the ranking, or the ranker would have issued no cursor.
  if (query.offset >= record.ranking.length) {
    throw new CursorOffsetError(query.feedId, query.offset, record.ranking.length);
  }
  const exclude = new Set(query.exclude ?? []);
  const skip = (itemId: string) =>
    exclude.has(itemId) || (rules.dropInteracted && (state.session.interacted.has(itemId) || (state.user?.interacted.has(itemId) ?? false)));
  const page = [];
  let index = query.offset;
  for (; index < record.ranking.length && page.length < query.limit; index++) {
    const entry = record.ranking[index];
    if (entry !== undefined && !skip(entry.itemId)) {
      page.push(entry);
    }
  }
  const snapshots = await readItems(context.store, page.map((entry) => entry.itemId), context.nowMs, budget, state.session);
  const items = page.map((entry, position): FeedItem => {
    const catalog = (snapshots[position] as ItemSnapshot).catalog;
    return { itemId: entry.itemId, score: entry.score, sources: entry.sources, known: catalog !== undefined, catalog, rules: entry.rules };
  });
  if (query.explain === true) {
    await explainItems(items, snapshots, state, context);
  }
  return {
    items,
    ranking: record.ranking,
    nextOffset: index < record.ranking.length ? index : undefined,
    candidateCount: record.ranking.length,
    record,
  };
}
