import { describeSurroundingWhitespace } from '@nexttap/events';
import { quoteText } from '@nexttap/http';
import { rankerError } from './errors';

/** Start of a next page: the served feed and the offset in its ranking. */
export interface FeedCursor {
  feedId: string;
  offset: number;
}

const CURSOR_VERSION = 'v1';
/** Characters of a rejected cursor shown in the message; the ranker's own cursors are about 60. */
const SHOWN_CURSOR_LENGTH = 40;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Encodes a cursor as base64url text, opaque to clients. */
export function encodeCursor(cursor: FeedCursor): string {
  return Buffer.from(`${CURSOR_VERSION}.${cursor.feedId}.${cursor.offset}`, 'utf8').toString('base64url');
}

/** Decodes a cursor; throws RANKER_ERR_INVALID_CURSOR when the text is not one `encodeCursor` made. */
export function decodeCursor(text: string): FeedCursor {
  const [version, feedId, offsetText, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('.');
  const offset = Number(offsetText);
  const valid = version === CURSOR_VERSION && feedId !== undefined && UUID.test(feedId) && Number.isInteger(offset) && offset > 0 && rest.length === 0;
  // Only the text `encodeCursor` writes is accepted, so offsets such as "", "03" or "1e1", which
  // Number() reads as integers, are rejected, and so is a next page that starts at offset 0.
  if (!valid || encodeCursor({ feedId, offset }) !== text) {
    // A base64url cursor never has whitespace, so whitespace around one comes from the client.
    const whitespace = describeSurroundingWhitespace(text);
    const problem = whitespace === undefined ? 'is not a cursor this ranker issued' : whitespace;
    const fix = whitespace === undefined ? 'send the nextCursor of the previous page unchanged' : 'send the nextCursor of the previous page without the surrounding whitespace';
    throw rankerError('RANKER_ERR_INVALID_CURSOR', `cursor ${quoteText(text, SHOWN_CURSOR_LENGTH)} ${problem}; ${fix}`, { field: 'cursor' });
  }
  return { feedId, offset };
}
