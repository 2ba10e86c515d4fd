/**
 * A whole number in decimal digits with an optional leading minus. A leading zero is rejected,
 * apart from 0 itself, because some tools read `010` as octal 8; `-0` is rejected with it.
 */
const PLAIN_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/**
 * A plain integer with an optional fraction of one or more digits after a decimal point. A
 * negative zero (`-0`, `-0.00`) is rejected, as in `PLAIN_INTEGER`.
 */
const PLAIN_DECIMAL = /^(?!-0(?:\.0+)?$)-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;

/**
 * Parses text that is only a whole number in decimal digits, with an optional leading minus, or
 * returns undefined. Number() would also read blank text (as 0), surrounding spaces, a plus sign,
 * an exponent (`1e3`), `0x`, `0o` and `0b` prefixes and `Infinity`.
 */
export function parsePlainInteger(text: string): number | undefined {
  return PLAIN_INTEGER.test(text) ? Number(text) : undefined;
}

/**
 * Parses text that is only a number in plain decimal notation (`12`, `0.5`, `-3.25`), or returns
 * undefined. It rejects what `parsePlainInteger` rejects, and a decimal point without a digit on
 * either side (`.5`, `5.`).
 */
export function parsePlainDecimal(text: string): number | undefined {
  return PLAIN_DECIMAL.test(text) ? Number(text) : undefined;
}
