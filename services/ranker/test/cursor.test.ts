import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../src/cursor';

const FEED_ID = '3f2c1a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f';

function rawCursor(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

describe('feed cursor', () => {
  it('decodes what it encodes', () => {
    expect(decodeCursor(encodeCursor({ feedId: FEED_ID, offset: 20 }))).toEqual({ feedId: FEED_ID, offset: 20 });
  });

  it.each([
    ['an empty offset', `v1.${FEED_ID}.`],
    ['offset 0', `v1.${FEED_ID}.0`],
    ['a leading zero', `v1.${FEED_ID}.03`],
    ['an exponent', `v1.${FEED_ID}.1e1`],
    ['a negative offset', `v1.${FEED_ID}.-1`],
    ['a fraction', `v1.${FEED_ID}.3.5`],
    ['another version', `v2.${FEED_ID}.3`],
    ['a feed id that is no UUID', 'v1.feed.3'],
  ])('rejects %s', (_name, text) => {
    expect(() => decodeCursor(rawCursor(text))).toThrow('is not a cursor this ranker issued');
  });

  it('rejects base64 padding the encoder does not write', () => {
    const cursor = encodeCursor({ feedId: FEED_ID, offset: 7 });
    expect(() => decodeCursor(`${cursor}==`)).toThrow('is not a cursor this ranker issued');
  });
});

describe('feed cursor whitespace', () => {
  it.each([
    ['a trailing newline', '\n', '', 'ends with whitespace ("\\n")'],
    ['a leading space', '', ' ', 'starts with whitespace (" ")'],
  ])('names %s', (_name, after, before, problem) => {
    const cursor = encodeCursor({ feedId: FEED_ID, offset: 7 });
    const text = `${before}${cursor}${after}`;
    // The message cuts the cursor at 40 characters, so it names the whitespace separately.
    const shownStart = JSON.stringify(text.slice(0, 40)).slice(0, -1);

    expect(() => decodeCursor(text)).toThrow(`cursor ${shownStart}..." ${problem}; send the nextCursor of the previous page without the surrounding whitespace`);
  });
});
