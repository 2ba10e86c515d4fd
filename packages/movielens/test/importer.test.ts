import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CatalogItem, Interaction } from '@nexttap/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CsvError,
  parseCsv,
  parseReleaseYear,
  readMovieLensCatalog,
  readMovieLensEvents,
  secondsToMilliseconds,
  summariseMovieLens,
} from '../src/index';

const REAL_DATA_DIR = fileURLToPath(new URL('../../../data/movielens', import.meta.url));

// The fixture files are written with CRLF line endings, as the MovieLens files are.
function crlf(lines: string[]): string {
  return lines.map((line) => `${line}\r\n`).join('');
}

const FIXTURE_MOVIES = crlf([
  'movieId,title,genres',
  '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy',
  '2,"American President, The (1995)",Comedy|Drama|Romance',
  '3,Hyena Road,(no genres listed)',
  '10,"11\'09""01 - September 11 (2002)",Drama',
  '20,Metropolis (1927),Drama|Sci-Fi',
  '30,Assembly (Ji jie hao) (2007) ,Action|Drama|War',
]);

// Sorted by user, then movie, like ratings.csv. Users 2 and 10 and movies 3 and 20 make string
// order differ from numeric order. User 2 has a 31-minute gap (1500000000 to 1500001860), and
// user 10 has a gap of exactly 30 minutes (1500000000 to 1500001800), which stays in one session.
const FIXTURE_RATINGS = crlf([
  'userId,movieId,rating,timestamp',
  '2,3,2.0,1500000000',
  '2,10,4.5,1500001860',
  '2,20,4.0,1500000000',
  '10,1,3.5,1500000000',
  '10,2,0.5,1500001800',
  '10,30,2.5,1499999000',
]);

const SECOND = 1000;
const BASE_MS = 1_500_000_000 * SECOND;

let fixtureDir: string;
const createdDirs: string[] = [];

async function writeDataset(movies: string, ratings: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nexttap-movielens-'));
  createdDirs.push(dir);
  await writeFile(join(dir, 'movies.csv'), movies);
  await writeFile(join(dir, 'ratings.csv'), ratings);
  return dir;
}

beforeAll(async () => {
  fixtureDir = await writeDataset(FIXTURE_MOVIES, FIXTURE_RATINGS);
});

afterAll(async () => {
  await Promise.all(createdDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('parseCsv', () => {
  it('splits plain fields with CRLF and LF', () => {
    const records = parseCsv('a,b\r\nc,d\ne,', 'test.csv');
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['c', 'd'] },
      { line: 3, fields: ['e', ''] },
    ]);
  });

  it('reads quoted commas and doubled quotes', () => {
    const records = parseCsv('1,"Heat, The (1995)","say ""hi"""\r\n', 'test.csv');
    expect(records).toEqual([{ line: 1, fields: ['1', 'Heat, The (1995)', 'say "hi"'] }]);
  });

  it('keeps line breaks inside quotes', () => {
    const records = parseCsv('"two\r\nlines",x\r\nnext,y\r\n', 'test.csv');
    expect(records[0]).toEqual({ line: 1, fields: ['two\r\nlines', 'x'] });
    expect(records[1]).toEqual({ line: 3, fields: ['next', 'y'] });
  });

  it('skips a byte order mark', () => {
    expect(parseCsv('\ufeffa,b\n', 'test.csv')).toEqual([{ line: 1, fields: ['a', 'b'] }]);
  });

  it.each([
    ['ok\n"open,x\n', 2, 'no closing quote'],
    ['ok\n"closed"x,y\n', 2, 'after a closing quote'],
    ['ok\nsay "hi",y\n', 2, 'quote inside an unquoted field'],
    ['ok\rnext\n', 1, 'carriage return without a line feed'],
  ])('rejects malformed CSV %j', (text, line, problem) => {
    let caught: unknown;
    try {
      parseCsv(text, 'bad.csv');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CsvError);
    const csvError = caught as CsvError;
    expect(csvError.file).toBe('bad.csv');
    expect(csvError.line).toBe(line);
    expect(csvError.message).toContain(problem);
  });
});

describe('secondsToMilliseconds', () => {
  it('multiplies whole seconds by 1000', () => {
    expect(secondsToMilliseconds(964_982_703)).toBe(964_982_703_000);
  });

  it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects %s', (seconds) => {
    expect(() => secondsToMilliseconds(seconds)).toThrow(RangeError);
  });
});

describe('parseReleaseYear', () => {
  it.each([
    ['Toy Story (1995)', 1995],
    ['Assembly (Ji jie hao) (2007) ', 2007],
    ['Hyena Road', undefined],
    ['Death Note: Desu nôto (2006–2007)', undefined],
  ])('reads %j as %s', (title, year) => {
    expect(parseReleaseYear(title)).toBe(year);
  });
});

describe('readMovieLensCatalog on the fixture', () => {
  let catalog: CatalogItem[];
  beforeAll(async () => {
    catalog = await readMovieLensCatalog(fixtureDir);
  });

  it('returns one item per movie in file order', () => {
    expect(catalog.map((item) => item.itemId)).toEqual(['1', '2', '3', '10', '20', '30']);
  });

  it('maps a movie with genres and a year', () => {
    expect(catalog[0]).toEqual({
      itemId: '1',
      categories: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'],
      title: 'Toy Story (1995)',
      kind: 'movie',
      publishedAt: Date.UTC(1995, 0, 1),
    });
  });

  it('keeps a quoted comma in the title', () => {
    expect(catalog[1]?.title).toBe('American President, The (1995)');
    expect(catalog[1]?.categories).toEqual(['Comedy', 'Drama', 'Romance']);
  });

  it('maps no genres to an empty list', () => {
    expect(catalog[2]?.categories).toEqual([]);
    expect(catalog[2]?.title).toBe('Hyena Road');
    expect(catalog[2]).not.toHaveProperty('publishedAt');
  });

  it('unescapes doubled quotes in the title', () => {
    expect(catalog[3]?.title).toBe('11\'09"01 - September 11 (2002)');
    expect(catalog[3]?.publishedAt).toBe(Date.UTC(2002, 0, 1));
  });

  it('dates films before 1970 with negative milliseconds', () => {
    expect(catalog[4]?.title).toBe('Metropolis (1927)');
    expect(catalog[4]?.publishedAt).toBe(Date.UTC(1927, 0, 1));
  });

  it('trims the title before reading the year', () => {
    expect(catalog[5]?.title).toBe('Assembly (Ji jie hao) (2007)');
    expect(catalog[5]?.publishedAt).toBe(Date.UTC(2007, 0, 1));
  });
});

describe('readMovieLensEvents on the fixture', () => {
  let events: Interaction[];
  beforeAll(async () => {
    events = await readMovieLensEvents(fixtureDir);
  });

  it('sorts by ts, then userId and movieId as numbers', () => {
    expect(events.map((event) => event.eventId)).toEqual([
      'ml-10-30',
      'ml-2-3',
      'ml-2-20',
      'ml-10-1',
      'ml-10-2',
      'ml-2-10',
    ]);
  });

  it('maps every field of a rating', () => {
    expect(events[0]).toEqual({
      eventId: 'ml-10-30',
      type: 'play',
      ts: 1_499_999_000 * SECOND,
      sessionId: '10-0',
      itemId: '30',
      userId: '10',
      value: 2.5,
    });
  });

  it('maps ratings to types at the boundaries', () => {
    const typeByEventId = Object.fromEntries(events.map((event) => [event.eventId, event.type]));
    expect(typeByEventId).toEqual({
      'ml-2-20': 'like', // 4.0
      'ml-2-10': 'like', // 4.5
      'ml-10-1': 'play', // 3.5
      'ml-10-30': 'play', // 2.5
      'ml-2-3': 'skip', // 2.0
      'ml-10-2': 'skip', // 0.5
    });
  });

  it('splits sessions after a 31-minute gap', () => {
    const sessionByEventId = Object.fromEntries(events.map((event) => [event.eventId, event.sessionId]));
    expect(sessionByEventId).toEqual({
      'ml-2-3': '2-0',
      'ml-2-20': '2-0',
      'ml-2-10': '2-1',
      'ml-10-30': '10-0',
      'ml-10-1': '10-0',
      'ml-10-2': '10-0',
    });
  });

  it('honours a shorter sessionGapMs', async () => {
    const shortGap = await readMovieLensEvents(fixtureDir, { sessionGapMs: 60_000 });
    expect(shortGap.map((event) => event.sessionId)).toEqual(['10-0', '2-0', '2-0', '10-1', '10-2', '2-1']);
  });

  it('shifts the last event to shiftToMs', async () => {
    const shiftToMs = Date.parse('2026-06-01T12:00:00Z');
    const shifted = await readMovieLensEvents(fixtureDir, { shiftToMs });
    const offsetMs = shiftToMs - (BASE_MS + 1860 * SECOND);

    expect(shifted.at(-1)?.ts).toBe(shiftToMs);
    expect(shifted.map((event) => event.ts)).toEqual(events.map((event) => event.ts + offsetMs));
    expect(shifted.map((event) => event.sessionId)).toEqual(events.map((event) => event.sessionId));
  });

  it('returns the earliest events up to limit', async () => {
    const shiftToMs = Date.parse('2026-06-01T12:00:00Z');
    const limited = await readMovieLensEvents(fixtureDir, { limit: 2, shiftToMs });
    expect(limited.map((event) => event.eventId)).toEqual(['ml-10-30', 'ml-2-3']);
    expect(limited.at(-1)?.ts).toBe(shiftToMs);
  });

  it('returns nothing for limit 0', async () => {
    expect(await readMovieLensEvents(fixtureDir, { limit: 0 })).toEqual([]);
  });

  it.each([
    [{ shiftToMs: 1.5 }, 'shiftToMs'],
    [{ limit: -1 }, 'limit'],
    [{ sessionGapMs: Number.NaN }, 'sessionGapMs'],
  ])('rejects option %j', async (options, name) => {
    await expect(readMovieLensEvents(fixtureDir, options)).rejects.toThrow(name);
  });

  it('rejects a shift before 1973', async () => {
    await expect(readMovieLensEvents(fixtureDir, { shiftToMs: 1_000 })).rejects.toThrow(/ratings\.csv:\d+: rating is not a valid interaction/);
  });
});

describe('readMovieLensEvents on invalid files', () => {
  it.each([
    ['a rating off the half-star scale', '1,1,4.2,1500000000', 'rating "4.2" is invalid'],
    ['a rating above 5', '1,1,5.5,1500000000', 'rating "5.5" is invalid'],
    ['a fractional timestamp', '1,1,4.0,1500000000.5', 'timestamp 1500000000.5 is not a whole number of seconds'],
    ['an empty timestamp', '1,1,4.0,', 'timestamp "" is not a number'],
    ['a non-numeric userId', 'u1,1,4.0,1500000000', 'userId "u1" is not a positive integer'],
    ['a userId with a leading space', ' 1,1,4.0,1500000000', 'userId " 1" starts with whitespace (" "); write the id without the surrounding whitespace, as the MovieLens files do'],
    ['a movieId with a trailing tab', '1,1\t,4.0,1500000000', 'movieId "1\\t" ends with whitespace ("\\t"); write the id without the surrounding whitespace, as the MovieLens files do'],
    ['a missing field', '1,1,4.0', 'row has 3 fields; expected 4'],
  ])('rejects %s with the line', async (_case, row, problem) => {
    const ratings = crlf(['userId,movieId,rating,timestamp', '1,2,3.0,1500000000', row]);
    const dir = await writeDataset(FIXTURE_MOVIES, ratings);
    const read = readMovieLensEvents(dir);
    await expect(read).rejects.toBeInstanceOf(CsvError);
    await expect(read).rejects.toThrow(`${join(dir, 'ratings.csv')}:3: ${problem}`);
  });

  it('rejects a repeated user and movie', async () => {
    const ratings = crlf(['userId,movieId,rating,timestamp', '1,2,3.0,1500000000', '1,2,4.0,1500000100']);
    const dir = await writeDataset(FIXTURE_MOVIES, ratings);
    await expect(readMovieLensEvents(dir)).rejects.toThrow('ratings.csv:3: user 1 rates movie 2 again after line 2');
  });

  it('rejects an unexpected header', async () => {
    const dir = await writeDataset(FIXTURE_MOVIES, crlf(['userId,movieId,rating', '1,2,3.0']));
    await expect(readMovieLensEvents(dir)).rejects.toThrow('ratings.csv:1: header is userId,movieId,rating; expected userId,movieId,rating,timestamp');
  });
});

describe('readMovieLensCatalog on invalid files', () => {
  it('rejects a repeated movieId', async () => {
    const movies = crlf(['movieId,title,genres', '1,Heat (1995),Action', '1,Heat (1995),Crime']);
    const dir = await writeDataset(movies, FIXTURE_RATINGS);
    await expect(readMovieLensCatalog(dir)).rejects.toThrow('movies.csv:3: movieId 1 repeats line 2');
  });

  it('rejects a movieId with surrounding whitespace', async () => {
    const movies = crlf(['movieId,title,genres', '1,Heat (1995),Action', '2 ,Sabrina (1995),Comedy']);
    const dir = await writeDataset(movies, FIXTURE_RATINGS);
    await expect(readMovieLensCatalog(dir)).rejects.toThrow('movies.csv:3: movieId "2 " ends with whitespace (" "); write the id without the surrounding whitespace');
  });

  it('rejects a genre with surrounding whitespace', async () => {
    const movies = crlf(['movieId,title,genres', '1,Heat (1995),Action', '2,Sabrina (1995),Comedy| Romance']);
    const dir = await writeDataset(movies, FIXTURE_RATINGS);
    await expect(readMovieLensCatalog(dir)).rejects.toThrow('movies.csv:3: movie 2 is not a valid catalog item: categories.1 starts with whitespace (" ")');
  });

  it('rejects an empty genre with the line', async () => {
    const movies = crlf(['movieId,title,genres', '1,Heat (1995),Action', '2,Sabrina (1995),Comedy||Romance']);
    const dir = await writeDataset(movies, FIXTURE_RATINGS);
    await expect(readMovieLensCatalog(dir)).rejects.toThrow(/movies\.csv:3: movie 2 is not a valid catalog item: .*empty/);
  });
});

describe('summariseMovieLens', () => {
  it('counts the fixture', async () => {
    const summary = summariseMovieLens(await readMovieLensEvents(fixtureDir), await readMovieLensCatalog(fixtureDir));
    expect(summary).toMatchObject({
      events: 6,
      users: 2,
      sessions: 3,
      catalogItems: 6,
      ratedItems: 6,
      ratedItemsNotInCatalog: 0,
      firstEventMs: 1_499_999_000 * SECOND,
      lastEventMs: BASE_MS + 1860 * SECOND,
      spanMs: 2860 * SECOND,
    });
    expect(summary.eventsByType).toMatchObject({ like: 2, play: 2, skip: 2, tap: 0 });
  });

  it('counts nothing for no events', () => {
    expect(summariseMovieLens([], [])).toMatchObject({ events: 0, sessions: 0, firstEventMs: null, spanMs: 0 });
  });
});

// Validating the 100836 events with validateInteraction took about 2 s of the 2.5 s this load
// needed on a 2-core AMD EPYC VM, so the hook gets more than the default 10 s on slower machines.
describe('MovieLens latest-small', () => {
  let events: Interaction[];
  let catalog: CatalogItem[];
  beforeAll(async () => {
    catalog = await readMovieLensCatalog(REAL_DATA_DIR);
    events = await readMovieLensEvents(REAL_DATA_DIR);
  }, 30_000);

  it('imports every rating and movie', () => {
    expect(events).toHaveLength(100_836);
    expect(catalog).toHaveLength(9_742);
  });

  it('sorts events by ts with the tie-break', () => {
    for (let index = 1; index < events.length; index += 1) {
      const previous = events[index - 1] as Interaction;
      const current = events[index] as Interaction;
      const order =
        previous.ts - current.ts ||
        Number(previous.userId) - Number(current.userId) ||
        Number(previous.itemId) - Number(current.itemId);
      if (order >= 0) {
        expect.fail(`event ${current.eventId} at index ${index} is not after ${previous.eventId}`);
      }
    }
  });

  it('gives every event a unique eventId', () => {
    expect(new Set(events.map((event) => event.eventId)).size).toBe(events.length);
  });

  // The expected counts were computed from ratings.csv without this importer: per user, sort the
  // timestamps and start a new session at each gap above 1800 s.
  it('counts users, sessions and types', () => {
    const summary = summariseMovieLens(events, catalog);
    expect(summary.users).toBe(610);
    expect(summary.sessions).toBe(7_145);
    expect(summary.eventsByType.like).toBe(48_580);
    expect(summary.eventsByType.play).toBe(38_733);
    expect(summary.eventsByType.skip).toBe(13_523);
    expect(summary.ratedItems).toBe(9_724);
    expect(summary.ratedItemsNotInCatalog).toBe(0);
    expect(summary.firstEventMs).toBe(828_124_615_000);
    expect(summary.lastEventMs).toBe(1_537_799_250_000);
  });

  it('leaves genres empty for unlabelled movies', () => {
    expect(catalog.filter((item) => item.categories.length === 0)).toHaveLength(34);
  });
});
