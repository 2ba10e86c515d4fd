import { quoteText } from './json-preview';

/** The first place where a text breaks the JSON grammar (RFC 8259). */
export interface JsonSyntaxProblem {
  /** UTF-16 index in the text of the character at fault, or the text's length when it ended early. */
  index: number;
  /** The problem at that index, such as `unexpected end of input`. */
  problem: string;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const SIMPLE_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX_DIGIT = /^[0-9a-fA-F]$/;
const DIGIT = /^[0-9]$/;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const LITERALS = ['true', 'false', 'null'];

/** The continuation the grammar requires at a point of the text, as the message names it. */
type Expectation = 'a value' | 'a field name in double quotes' | '":"' | '"," or "}"' | '"," or "]"' | 'a digit';

/**
 * Finds where `text` first breaks the JSON grammar, or returns undefined for valid JSON. A leading
 * byte order mark is skipped, as fastify's parser (secure-json-parse 4) skips it. JSON.parse in
 * Node.js 20 names no position for many errors (`Unexpected token 'N', "{"limit":NaN}" is not
 * valid JSON`) and echoes the text raw, so the error message is built from this scan instead. It
 * keeps its own stack of open brackets, so deep nesting cannot overflow the call stack. It runs only
 * on bodies that the JSON parser already rejected.
 */
export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  return new JsonSyntaxScanner(text).scan();
}

class JsonSyntaxScanner {
  private at: number;
  /** The open containers, innermost last: `{` or `[`. */
  private readonly open: string[] = [];

  constructor(private readonly text: string) {
    this.at = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  }

  scan(): JsonSyntaxProblem | undefined {
    let state: 'value' | 'key' | 'after' = 'value';
    for (;;) {
      this.skipWhitespace();
      if (state === 'after' && this.open.length === 0) {
        return this.at === this.text.length ? undefined : { index: this.at, problem: `unexpected character ${this.quotedCharacter()} after the end of the JSON value` };
      }
      const problem = this.readInState(state);
      if (problem !== undefined) {
        return problem;
      }
      state = this.nextState(state);
    }
  }

  private readInState(state: 'value' | 'key' | 'after'): JsonSyntaxProblem | undefined {
    switch (state) {
      case 'value':
        return this.readValue();
      case 'key':
        return this.readKey();
      case 'after':
        return this.readAfterValue();
    }
  }

  /** Picks the state after a value, a key or a separator was read. */
  private nextState(state: 'value' | 'key' | 'after'): 'value' | 'key' | 'after' {
    if (state !== 'after') {
      return state === 'key' ? 'value' : this.afterOpening();
    }
    // readAfterValue consumed a comma or a closing bracket.
    const previous = this.text[this.at - 1];
    if (previous === ',') {
      return this.open.at(-1) === '{' ? 'key' : 'value';
    }
    return 'after';
  }

  /**
   * Returns the state after readValue: a bracket it just opened waits for a key or a value, unless
   * it closes at once, and any other value is complete.
   */
  private afterOpening(): 'value' | 'key' | 'after' {
    const opened = this.text[this.at - 1];
    if (opened !== '{' && opened !== '[') {
      return 'after';
    }
    this.skipWhitespace();
    const closing = opened === '{' ? '}' : ']';
    if (this.text[this.at] === closing) {
      this.open.pop();
      this.at += 1;
      return 'after';
    }
    return opened === '{' ? 'key' : 'value';
  }

  /** Reads a value, or only the opening bracket of an object or array. */
  private readValue(): JsonSyntaxProblem | undefined {
    const char = this.text[this.at];
    if (char === undefined) {
      return this.endOfInput();
    }
    if (char === '{' || char === '[') {
      this.open.push(char);
      this.at += 1;
      return undefined;
    }
    if (char === '"') {
      return this.readString();
    }
    if (char === '-' || DIGIT.test(char)) {
      return this.readNumber();
    }
    const literal = LITERALS.find((word) => word[0] === char);
    return literal === undefined ? this.unexpected('a value') : this.readLiteral(literal);
  }

  private readKey(): JsonSyntaxProblem | undefined {
    if (this.text[this.at] !== '"') {
      return this.text[this.at] === undefined ? this.endOfInput() : this.unexpected('a field name in double quotes');
    }
    const problem = this.readString();
    if (problem !== undefined) {
      return problem;
    }
    this.skipWhitespace();
    if (this.text[this.at] !== ':') {
      return this.text[this.at] === undefined ? this.endOfInput() : this.unexpected('":"');
    }
    this.at += 1;
    return undefined;
  }

  /** Reads what follows a complete value inside an object or array: a comma or the closing bracket. */
  private readAfterValue(): JsonSyntaxProblem | undefined {
    const container = this.open.at(-1);
    const char = this.text[this.at];
    if (char === undefined) {
      return this.endOfInput();
    }
    const closing = container === '{' ? '}' : ']';
    if (char === closing) {
      this.open.pop();
    } else if (char !== ',') {
      return this.unexpected(container === '{' ? '"," or "}"' : '"," or "]"');
    }
    this.at += 1;
    return undefined;
  }

  private readString(): JsonSyntaxProblem | undefined {
    const text = this.text;
    this.at += 1;
    for (;;) {
      const char = text[this.at];
      if (char === undefined) {
        return { index: this.at, problem: 'unexpected end of input inside a string' };
      }
      if (char === '"') {
        this.at += 1;
        return undefined;
      }
      if (char.charCodeAt(0) < 0x20) {
        const codePoint = `U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
        return { index: this.at, problem: `unescaped control character ${codePoint} inside a string (write it as a \\u escape)` };
      }
      if (char === '\\') {
        const problem = this.readEscape();
        if (problem !== undefined) {
          return problem;
        }
        continue;
      }
      this.at += 1;
    }
  }

  private readEscape(): JsonSyntaxProblem | undefined {
    const start = this.at;
    const kind = this.text[start + 1];
    if (kind !== undefined && SIMPLE_ESCAPES.has(kind)) {
      this.at += 2;
      return undefined;
    }
    if (kind === 'u' && [2, 3, 4, 5].every((offset) => HEX_DIGIT.test(this.text[start + offset] ?? ''))) {
      this.at += 6;
      return undefined;
    }
    if (kind === undefined) {
      return { index: start + 1, problem: 'unexpected end of input inside a string' };
    }
    const sequence = kind === 'u' ? this.text.slice(start, start + 6) : this.text.slice(start, start + 2);
    const shown = PRINTABLE_ASCII.test(sequence) ? sequence : quoteText(sequence, 6);
    return { index: start, problem: `invalid escape sequence ${shown} inside a string` };
  }

  /** Reads `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`. */
  private readNumber(): JsonSyntaxProblem | undefined {
    if (this.text[this.at] === '-') {
      this.at += 1;
    }
    if (this.text[this.at] === '0') {
      this.at += 1;
    } else {
      const problem = this.readDigits();
      if (problem !== undefined) {
        return problem;
      }
    }
    if (this.text[this.at] === '.') {
      this.at += 1;
      const problem = this.readDigits();
      if (problem !== undefined) {
        return problem;
      }
    }
    if (this.text[this.at] === 'e' || this.text[this.at] === 'E') {
      this.at += 1;
      if (this.text[this.at] === '+' || this.text[this.at] === '-') {
        this.at += 1;
      }
      return this.readDigits();
    }
    return undefined;
  }

  private readDigits(): JsonSyntaxProblem | undefined {
    if (!DIGIT.test(this.text[this.at] ?? '')) {
      return this.text[this.at] === undefined ? this.endOfInput() : this.unexpected('a digit');
    }
    while (DIGIT.test(this.text[this.at] ?? '')) {
      this.at += 1;
    }
    return undefined;
  }

  private readLiteral(literal: string): JsonSyntaxProblem | undefined {
    for (const expected of literal) {
      const char = this.text[this.at];
      if (char === undefined) {
        return this.endOfInput();
      }
      if (char !== expected) {
        return this.unexpected('a value');
      }
      this.at += 1;
    }
    return undefined;
  }

  private skipWhitespace(): void {
    while (WHITESPACE.has(this.text[this.at] ?? '')) {
      this.at += 1;
    }
  }

  private endOfInput(): JsonSyntaxProblem {
    return { index: this.at, problem: 'unexpected end of input' };
  }

  private unexpected(expectation: Expectation): JsonSyntaxProblem {
    return { index: this.at, problem: `unexpected character ${this.quotedCharacter()} where ${expectation} was expected${this.hint()}` };
  }

  /** Quotes the character at the scan position, one whole code point even outside the BMP. */
  private quotedCharacter(): string {
    const codePoint = this.text.codePointAt(this.at) ?? 0;
    return quoteText(String.fromCodePoint(codePoint), 2);
  }

  /** Names a common non-JSON form that starts at the scan position: a comment, NaN, Infinity, a single quote. */
  private hint(): string {
    const rest = this.text.slice(this.at, this.at + 9);
    if (rest.startsWith('//') || rest.startsWith('/*')) {
      return ' (JSON has no comments)';
    }
    if (rest.startsWith('NaN') || rest.startsWith('Infinity') || rest.startsWith('-Infinity')) {
      return ' (JSON has no NaN or Infinity)';
    }
    if (rest.startsWith("'")) {
      return ' (JSON strings take double quotes)';
    }
    return '';
  }
}
