/**
 * Imports the MovieLens "latest-small" dataset (`movies.csv`, `ratings.csv`) as nexttap catalog
 * items and interactions, so that history can be replayed through the same contract as app events.
 *
 * Each rating becomes one interaction:
 *
 * | Interaction field | Value                                                                  |
 * | ----------------- | ---------------------------------------------------------------------- |
 * | `type`            | `like` for a rating of 4.0 to 5.0, `play` for 2.5 to 3.5, `skip` for 0.5 to 2.0 |
 * | `value`           | the rating itself, 0.5 to 5.0 in steps of 0.5                          |
 * | `userId`          | the MovieLens userId as a string, e.g. `"42"`                          |
 * | `itemId`          | the movieId as a string, the same id as the catalog item               |
 * | `eventId`         | `ml-<userId>-<movieId>`, unique because a user rates a movie only once |
 * | `ts`              | the rating time in epoch milliseconds (the file stores Unix seconds, UTC) |
 * | `sessionId`       | `<userId>-<index>`, counting that user's sessions from 0 in time order |
 *
 * A new session starts when more than `sessionGapMs` (default 30 minutes) passes between two
 * consecutive ratings of one user. The import returns events sorted by `ts`, then by userId and
 * then by movieId, both compared as numbers, because the file is sorted by user and many ratings of
 * one user share a timestamp.
 *
 * @packageDocumentation
 */
import { join } from 'node:path';
import {
  describeSurroundingWhitespace,
  INTERACTION_TYPES,
  quoteJsonString,
  validateCatalogItem,
  validateInteraction,
  type CatalogItem,
  type Interaction,
  type InteractionType,
} from '@nexttap/events';
import { CsvError, forEachCsvRow, readCsvFile } from './csv';

export const MOVIES_FILE = 'movies.csv';
export const RATINGS_FILE = 'ratings.csv';

/** Default maximum gap between two ratings of one session: 30 minutes in milliseconds. */
export const DEFAULT_SESSION_GAP_MS = 1_800_000;

/** The interaction types that ratings map to. */
export type RatingInteractionType = Extract<InteractionType, 'like' | 'play' | 'skip'>;

export interface MovieLensEventOptions {
  /**
   * Epoch milliseconds at which the last returned event should land. Every timestamp moves by the
   * same offset, so gaps between events, sessions and time-decayed features stay as they were,
   * because decay depends only on differences between times. Use it to replay the history as if
   * it had just happened. Must be an integer. Default: no shift.
   */
  shiftToMs?: number;
  /** Gap in milliseconds between two ratings of one user above which a new session starts. Default 1800000 (30 min). */
  sessionGapMs?: number;
  /** Maximum number of events to return: the earliest ones in the sort order. Default: all. */
  limit?: number;
}

/** Counts for logs and docs that describe one import. */
export interface MovieLensSummary {
  events: number;
  /** Events per interaction type, 0 for the types that ratings never map to. */
  eventsByType: Record<InteractionType, number>;
  users: number;
  sessions: number;
  catalogItems: number;
  /** Distinct items with at least one event. */
  ratedItems: number;
  /** Distinct items with events but no catalog item; 0 when both come from one complete dataset. */
  ratedItemsNotInCatalog: number;
  /** Time of the earliest and of the latest event in epoch milliseconds, null without events. */
  firstEventMs: number | null;
  lastEventMs: number | null;
  /** Time between the first and the last event in milliseconds. */
  spanMs: number;
}

const NO_GENRES = '(no genres listed)';
const RELEASE_YEAR = /\((\d{4})\)$/;
const POSITIVE_INTEGER_ID = /^[1-9]\d*$/;

/**
 * Converts whole Unix seconds to epoch milliseconds.
 *
 * @throws RangeError when `seconds` is not an integer or the result is not a safe integer
 */
export function secondsToMilliseconds(seconds: number): number {
  if (!Number.isInteger(seconds)) {
    throw new RangeError(`timestamp ${seconds} is not a whole number of seconds`);
  }
  const milliseconds = seconds * 1000;
  if (!Number.isSafeInteger(milliseconds)) {
    throw new RangeError(`timestamp ${seconds} s is too large to store as epoch milliseconds`);
  }
  return milliseconds;
}

/** Maps a rating from 0.5 to 5.0 to an interaction type, following the table at the top of this module. */
export function ratingToInteractionType(rating: number): RatingInteractionType {
  if (rating >= 4) {
    return 'like';
  }
  return rating >= 2.5 ? 'play' : 'skip';
}

/**
 * Parses the release year from a title that ends in "(YYYY)", such as "Toy Story (1995)", and
 * returns undefined when there is none. A range such as "(2006–2007)" is not read as a year.
 */
export function parseReleaseYear(title: string): number | undefined {
  const match = RELEASE_YEAR.exec(title.trim());
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Reads `movies.csv` from `dir` and returns one validated catalog item per movie, in file order.
 * Titles lose surrounding whitespace, and `publishedAt` is 1 January of the release year, 00:00 UTC.
 *
 * @throws CsvError naming the file and line of the first movie that is malformed, repeated or
 *   rejected by `validateCatalogItem`
 */
export async function readMovieLensCatalog(dir: string): Promise<CatalogItem[]> {
  const file = join(dir, MOVIES_FILE);
  const rows = await readCsvFile(file, ['movieId', 'title', 'genres']);

  const catalog: CatalogItem[] = [];
  const lineByMovieId = new Map<string, number>();
  for (const { line, values } of rows) {
    const movieId = parseId(values.movieId, 'movieId', file, line);
    const firstLine = lineByMovieId.get(movieId);
    if (firstLine !== undefined) {
      throw new CsvError(file, line, `movieId ${movieId} repeats line ${firstLine}; each movie must appear once`);
    }
    lineByMovieId.set(movieId, line);

    const title = values.title.trim();
    const raw: Record<string, unknown> = {
      itemId: movieId,
      categories: values.genres === NO_GENRES ? [] : values.genres.split('|'),
      title,
      kind: 'movie',
    };
    const publishedAt = releaseDateMs(title);
    if (publishedAt !== undefined) {
      // An ISO-8601 string, because 1970 to early 1973 in milliseconds reads as epoch seconds.
      raw.publishedAt = new Date(publishedAt).toISOString();
    }

    const result = validateCatalogItem(raw);
    if (!result.ok) {
      throw new CsvError(file, line, `movie ${movieId} is not a valid catalog item: ${result.rejection.message}`);
    }
    catalog.push(result.value);
  }
  return catalog;
}

function releaseDateMs(title: string): number | undefined {
  const year = parseReleaseYear(title);
  if (year === undefined) {
    return undefined;
  }
  return Date.UTC(year, 0, 1);
}

/** The columns of the ratings file, in order. */
const RATING_COLUMNS = ['userId', 'movieId', 'rating', 'timestamp'] as const;

interface Rating {
  line: number;
  userId: number;
  movieId: number;
  rating: number;
  ms: number;
}

/**
 * Reads `ratings.csv` from `dir` and returns one validated interaction per rating, sorted by time,
 * with the mapping and sessions described at the top of this module.
 *
 * @throws RangeError on an invalid option
 * @throws CsvError naming the file and line of the first rating that is malformed, repeated or
 *   rejected by `validateInteraction`. Validation uses the latest event time as the current time.
 */
export async function readMovieLensEvents(dir: string, options: MovieLensEventOptions = {}): Promise<Interaction[]> {
  const { shiftToMs, limit, sessionGapMs = DEFAULT_SESSION_GAP_MS } = options;
  if (shiftToMs !== undefined && !Number.isSafeInteger(shiftToMs)) {
    throw new RangeError(`shiftToMs ${shiftToMs} is invalid; pass an integer number of epoch milliseconds`);
  }
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
    throw new RangeError(`limit ${limit} is invalid; pass an integer of 0 or more`);
  }
  if (!(Number.isFinite(sessionGapMs) && sessionGapMs >= 0)) {
    throw new RangeError(`sessionGapMs ${sessionGapMs} is invalid; pass a number of milliseconds of 0 or more`);
  }

  const file = join(dir, RATINGS_FILE);
  const ratings = await readRatings(file);
  ratings.sort(compareRatings);
  const selected = limit === undefined ? ratings : ratings.slice(0, limit);

  const last = selected.at(-1);
  if (last === undefined) {
    return [];
  }
  const offsetMs = shiftToMs === undefined ? 0 : shiftToMs - last.ms;
  const nowMs = last.ms + offsetMs;

  const events: Interaction[] = [];
  const sessionByUser = new Map<number, { index: number; lastMs: number }>();
  for (const rating of selected) {
    const session = sessionByUser.get(rating.userId);
    let sessionIndex = 0;
    if (session !== undefined) {
      sessionIndex = rating.ms - session.lastMs > sessionGapMs ? session.index + 1 : session.index;
    }
    sessionByUser.set(rating.userId, { index: sessionIndex, lastMs: rating.ms });

    const raw = {
      eventId: `ml-${rating.userId}-${rating.movieId}`,
      type: ratingToInteractionType(rating.rating),
      ts: rating.ms + offsetMs,
      sessionId: `${rating.userId}-${sessionIndex}`,
      itemId: String(rating.movieId),
      userId: String(rating.userId),
      value: rating.rating,
    };
    const result = validateInteraction(raw, { nowMs });
    if (!result.ok) {
      throw new CsvError(file, rating.line, `rating is not a valid interaction: ${result.rejection.message}`);
    }
    events.push(result.value);
  }
  return events;
}

async function readRatings(file: string): Promise<Rating[]> {
  const ratings: Rating[] = [];
  // Per user, the line of each rated movie. Number keys build no string per row, as one map keyed by the pair as text did.
  const lineByMovieByUser = new Map<number, Map<number, number>>();
  // Row by row, without a record per row: the small dataset has 100,836 ratings.
  await forEachCsvRow(file, RATING_COLUMNS, (line, fields) => {
    const userId = Number(parseId(fields[0] as string, 'userId', file, line));
    const movieId = Number(parseId(fields[1] as string, 'movieId', file, line));
    let lineByMovie = lineByMovieByUser.get(userId);
    if (lineByMovie === undefined) {
      lineByMovie = new Map();
      lineByMovieByUser.set(userId, lineByMovie);
    }
    const firstLine = lineByMovie.get(movieId);
    if (firstLine !== undefined) {
      throw new CsvError(file, line, `user ${userId} rates movie ${movieId} again after line ${firstLine}; each pair must appear once`);
    }
    lineByMovie.set(movieId, line);

    ratings.push({ line, userId, movieId, rating: parseRating(fields[2] as string, file, line), ms: parseSeconds(fields[3] as string, file, line) });
  });
  return ratings;
}

function parseId(text: string, column: string, file: string, line: number): string {
  const whitespace = describeSurroundingWhitespace(text);
  if (whitespace !== undefined) {
    throw new CsvError(file, line, `${column} ${quoteJsonString(text)} ${whitespace}; write the id without the surrounding whitespace, as the MovieLens files do`);
  }
  if (!POSITIVE_INTEGER_ID.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new CsvError(file, line, `${column} ${JSON.stringify(text)} is not a positive integer without leading zeros`);
  }
  return text;
}

function parseRating(text: string, file: string, line: number): number {
  const rating = text.trim() === '' ? Number.NaN : Number(text);
  if (!(rating >= 0.5 && rating <= 5 && Number.isInteger(rating * 2))) {
    throw new CsvError(file, line, `rating ${JSON.stringify(text)} is invalid; expected 0.5 to 5.0 in steps of 0.5`);
  }
  return rating;
}

function parseSeconds(text: string, file: string, line: number): number {
  const seconds = text.trim() === '' ? Number.NaN : Number(text);
  if (Number.isNaN(seconds)) {
    throw new CsvError(file, line, `timestamp ${JSON.stringify(text)} is not a number; expected Unix seconds`);
  }
  try {
    return secondsToMilliseconds(seconds);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new CsvError(file, line, error.message);
    }
    throw error;
  }
}

function compareRatings(a: Rating, b: Rating): number {
  return a.ms - b.ms || a.userId - b.userId || a.movieId - b.movieId;
}

/** Counts the events, users, sessions and items of one import and the time the events span. */
export function summariseMovieLens(events: readonly Interaction[], catalog: readonly CatalogItem[]): MovieLensSummary {
  const eventsByType = Object.fromEntries(INTERACTION_TYPES.map((type) => [type, 0])) as Record<InteractionType, number>;
  const users = new Set<string>();
  const sessions = new Set<string>();
  const ratedItems = new Set<string>();
  let firstEventMs: number | null = null;
  let lastEventMs: number | null = null;

  for (const event of events) {
    eventsByType[event.type] += 1;
    if (event.userId !== undefined) {
      users.add(event.userId);
    }
    sessions.add(event.sessionId);
    ratedItems.add(event.itemId);
    firstEventMs = firstEventMs === null ? event.ts : Math.min(firstEventMs, event.ts);
    lastEventMs = lastEventMs === null ? event.ts : Math.max(lastEventMs, event.ts);
  }

  const catalogIds = new Set(catalog.map((item) => item.itemId));
  let ratedItemsNotInCatalog = 0;
  for (const itemId of ratedItems) {
    if (!catalogIds.has(itemId)) {
      ratedItemsNotInCatalog += 1;
    }
  }

  return {
    events: events.length,
    eventsByType,
    users: users.size,
    sessions: sessions.size,
    catalogItems: catalog.length,
    ratedItems: ratedItems.size,
    ratedItemsNotInCatalog,
    firstEventMs,
    lastEventMs,
    spanMs: firstEventMs === null || lastEventMs === null ? 0 : lastEventMs - firstEventMs,
  };
}
