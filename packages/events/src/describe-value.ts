/**
 * Characters that JSON.stringify leaves raw but a reader cannot see or that reorder the text around
 * them: DEL and C1 controls, format characters (zero-width, bidirectional marks and overrides,
 * byte order mark, tags), line and paragraph separators and every space other than U+0020.
 */
const UNSEEN_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}]/gu;

/**
 * Quotes `text` as a JSON string for a message, with every invisible or bidirectional character
 * written as a `\u` escape as well, so a value echoed in an error cannot hide or reorder the text
 * around it. JSON.stringify already escapes C0 controls and unpaired surrogates.
 */
export function quoteJsonString(text: string): string {
  return JSON.stringify(text).replace(UNSEEN_CHARACTERS, escapeUnseen);
}

function escapeUnseen(character: string): string {
  if (character === ' ') {
    return character;
  }
  let escaped = '';
  for (let index = 0; index < character.length; index++) {
    escaped += `\\u${character.charCodeAt(index).toString(16).padStart(4, '0')}`;
  }
  return escaped;
}

/** Maximum characters of a received value shown in a rejection message. */
const MAX_SHOWN_LENGTH = 60;

/**
 * Describes a received value for a message: its JSON, cut to 60 characters with `...` at the end.
 * A number that is not finite is written as `Infinity`, `-Infinity` or `NaN`, not as
 * JSON.stringify's `null`, because JSON.parse reads a number such as 1e400 as Infinity.
 */
export function describeValue(value: unknown): string {
  const state = { text: '' };
  appendJson(value, state);
  const { text } = state;
  return text.length > MAX_SHOWN_LENGTH ? `${text.slice(0, MAX_SHOWN_LENGTH - 3)}...` : text;
}

/**
 * Appends the JSON of `value` to `state.text` and stops once the text is longer than the message
 * keeps. A large or deeply nested value is therefore never written out whole, and each level of
 * nesting adds a bracket, so the recursion ends within about 60 levels.
 */
function appendJson(value: unknown, state: { text: string }): void {
  if (state.text.length > MAX_SHOWN_LENGTH) {
    return;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    state.text += String(value);
  } else if (typeof value === 'string') {
    state.text += quoteJsonString(value.slice(0, MAX_SHOWN_LENGTH + 1));
  } else if (Array.isArray(value)) {
    state.text += '[';
    for (let index = 0; index < value.length && state.text.length <= MAX_SHOWN_LENGTH; index++) {
      state.text += index === 0 ? '' : ',';
      appendJson(value[index], state);
    }
    state.text += ']';
  } else if (typeof value === 'object' && value !== null) {
    state.text += '{';
    let first = true;
    for (const [key, entry] of Object.entries(value)) {
      if (state.text.length > MAX_SHOWN_LENGTH) {
        break;
      }
      state.text += `${first ? '' : ','}${quoteJsonString(key)}:`;
      first = false;
      appendJson(entry, state);
    }
    state.text += '}';
  } else {
    state.text += JSON.stringify(value) ?? String(value);
  }
}
