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
    state.text += JSON.stringify(value.slice(0, MAX_SHOWN_LENGTH + 1));
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
      state.text += `${first ? '' : ','}${JSON.stringify(key)}:`;
      first = false;
      appendJson(entry, state);
    }
    state.text += '}';
  } else {
    state.text += JSON.stringify(value) ?? String(value);
  }
}
