import { MAX_ID_LENGTH } from '@nexttap/events';
import { createJsonBodyParser, jsonBodyText } from '@nexttap/http';
import type { FastifyInstance } from 'fastify';
import { MAX_CURSOR_LENGTH, MAX_FEED_LIMIT, MAX_REQUEST_CANDIDATES } from './feed-request';

/**
 * Bodies built by `scanFeedBody`. Each is the object JSON.parse returns for its text, and every
 * field of it passed the checks of the feed request's common form, so `parseFeedRequest` takes it
 * without checking it again.
 */
const scannedBodies = new WeakSet<object>();

/** Tells whether `body` came from `scanFeedBody`, whose checks it passed. */
export function isScannedFeedBody(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && scannedBodies.has(body);
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const TILDE = 0x7e;
const DIGIT_ZERO = 0x30;
const DIGIT_ONE = 0x31;
const DIGIT_NINE = 0x39;

const ID_FIELDS = new Set(['sessionId', 'userId']);
const ID_LIST_FIELDS = new Set(['candidates', 'exclude']);
const FLAG_FIELDS = new Set(['explain', 'includeCatalog']);

/**
 * Parses a feed request body written as `JSON.stringify` writes one, in a single pass, and checks
 * its fields as `parseFeedRequest` checks a body in the common form. Returns the object JSON.parse
 * would return, or undefined for any other text: whitespace, escapes, characters outside printable
 * ASCII, an unknown or repeated field, or a value outside the common form. The caller then parses
 * the text with fastify's JSON parser and the body goes through the full checks, so every rejection
 * keeps its code and message.
 *
 * On the bodies of `bench/feed-rules-latency.ts` (200 MovieLens candidates), JSON.parse alone took
 * 50 to 100 µs and this scan 20 to 40 µs, in a loop on a loaded 2-core virtual machine.
 */
export function scanFeedBody(text: string): Record<string, unknown> | undefined {
  const scanner = new FeedBodyScanner(text);
  const body = scanner.scan();
  if (body !== undefined) {
    scannedBodies.add(body);
  }
  return body;
}

class FeedBodyScanner {
  private at = 0;

  constructor(private readonly text: string) {}

  scan(): Record<string, unknown> | undefined {
    const text = this.text;
    if (text.charCodeAt(0) !== OPEN_BRACE) {
      return undefined;
    }
    this.at = 1;
    const body: Record<string, unknown> = {};
    for (;;) {
      const field = this.readString();
      if (field === undefined || Object.hasOwn(body, field) || text.charCodeAt(this.at) !== COLON) {
        return undefined;
      }
      this.at += 1;
      const value = this.readValue(field);
      if (value === undefined) {
        return undefined;
      }
      body[field] = value;
      const next = text.charCodeAt(this.at);
      this.at += 1;
      if (next === CLOSE_BRACE) {
        break;
      }
      if (next !== COMMA) {
        return undefined;
      }
    }
    return this.at === text.length && typeof body.sessionId === 'string' ? body : undefined;
  }

  /** Reads the value of `field` in its common form, or returns undefined. */
  private readValue(field: string): unknown {
    if (ID_FIELDS.has(field)) {
      const id = this.readString();
      return id !== undefined && isPlainScannedId(id) ? id : undefined;
    }
    if (ID_LIST_FIELDS.has(field)) {
      return this.readIdList();
    }
    if (FLAG_FIELDS.has(field)) {
      return this.readFlag();
    }
    if (field === 'limit') {
      return this.readLimit();
    }
    if (field === 'cursor') {
      const cursor = this.readString();
      return cursor !== undefined && cursor.length > 0 && cursor.length <= MAX_CURSOR_LENGTH ? cursor : undefined;
    }
    return undefined;
  }

  /**
   * Reads a string of printable ASCII without escapes, the characters JSON takes as they are, or
   * returns undefined.
   */
  private readString(): string | undefined {
    const text = this.text;
    if (text.charCodeAt(this.at) !== QUOTE) {
      return undefined;
    }
    const start = this.at + 1;
    let end = start;
    for (;;) {
      const code = text.charCodeAt(end);
      if (code === QUOTE) {
        break;
      }
      // NaN past the end fails this test too.
      if (!(code >= SPACE && code <= TILDE) || code === BACKSLASH) {
        return undefined;
      }
      end += 1;
    }
    this.at = end + 1;
    return text.slice(start, end);
  }

  /** Reads a non-empty array of at most `MAX_REQUEST_CANDIDATES` plain ids, or returns undefined. */
  private readIdList(): string[] | undefined {
    const text = this.text;
    if (text.charCodeAt(this.at) !== OPEN_BRACKET) {
      return undefined;
    }
    this.at += 1;
    const ids: string[] = [];
    for (;;) {
      const id = this.readString();
      if (id === undefined || !isPlainScannedId(id) || ids.length === MAX_REQUEST_CANDIDATES) {
        return undefined;
      }
      ids.push(id);
      const next = text.charCodeAt(this.at);
      this.at += 1;
      if (next === CLOSE_BRACKET) {
        return ids;
      }
      if (next !== COMMA) {
        return undefined;
      }
    }
  }

  private readFlag(): boolean | undefined {
    if (this.text.startsWith('true', this.at)) {
      this.at += 4;
      return true;
    }
    if (this.text.startsWith('false', this.at)) {
      this.at += 5;
      return false;
    }
    return undefined;
  }

  /** Reads a limit from 1 to `MAX_FEED_LIMIT` written as plain digits, or returns undefined. */
  private readLimit(): number | undefined {
    const text = this.text;
    const first = text.charCodeAt(this.at);
    // JSON allows no leading zero, and a limit of 0 is out of range anyway.
    if (!(first >= DIGIT_ONE && first <= DIGIT_NINE)) {
      return undefined;
    }
    let limit = first - DIGIT_ZERO;
    this.at += 1;
    for (;;) {
      const code = text.charCodeAt(this.at);
      if (!(code >= DIGIT_ZERO && code <= DIGIT_NINE)) {
        break;
      }
      limit = limit * 10 + (code - DIGIT_ZERO);
      if (limit > MAX_FEED_LIMIT) {
        return undefined;
      }
      this.at += 1;
    }
    return limit;
  }
}

/**
 * Tells whether a string that `readString` returned is a plain id (`isPlainId`): at most
 * `MAX_ID_LENGTH` characters, neither starting nor ending with a space. Its characters are
 * printable ASCII already, and a space is the only whitespace among them.
 */
function isPlainScannedId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_ID_LENGTH && id.charCodeAt(0) !== SPACE && id.charCodeAt(id.length - 1) !== SPACE;
}

/**
 * Makes `scope` parse JSON bodies with `scanFeedBody` first, and with the shared JSON parser
 * (`createJsonBodyParser`: fastify's, under the instance's prototype-poisoning settings) when the
 * scan returns undefined. The scan's object is the one JSON.parse returns for the same text, so any
 * route of the scope may use it. The scan takes no `__proto__` or `constructor` field, so such a
 * body always reaches the shared parser and gets the same error as on every other route. A body
 * with a content coding, or one that is not valid UTF-8, is rejected before the scan, as the
 * shared parser rejects it.
 */
export function installFeedBodyParser(scope: FastifyInstance): void {
  const parseJson = createJsonBodyParser(scope);
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, bytes, done) => {
    const text = jsonBodyText(request, bytes as Buffer);
    if (text instanceof Error) {
      done(text);
      return;
    }
    const body = scanFeedBody(text);
    if (body !== undefined) {
      done(null, body);
      return;
    }
    parseJson(request, text, done);
  });
}
