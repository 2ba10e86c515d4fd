import { z } from 'zod';
import { parsePlainDecimal, parsePlainInteger } from './plain-decimal';

/** Range, default and wording of a numeric setting. */
export interface NumberSettingOptions {
  /** Smallest accepted value. */
  min: number;
  /** Largest accepted value. */
  max: number;
  /** Value of an unset setting, also the example that error messages give. */
  default: number;
  /** Unit in the plural (`milliseconds`, `bytes`) for error messages; leave it out for a count. */
  unit?: string;
  /** Accepts a decimal fraction such as `0.5`. Default false: whole numbers only. */
  fraction?: boolean;
}

/**
 * Builds the zod schema of a numeric setting that comes from an environment variable. Text must
 * be plain decimal digits (`parsePlainInteger`, or `parsePlainDecimal` with `fraction`), because
 * z.coerce.number() reads `0x2`, `+3`, `1e3` and ` 5 ` as numbers and blank text as 0, which then
 * fails as "below the minimum". A number passes as it is, for configs built in code. The error
 * messages name the accepted form and the default, and the caller prefixes them with the variable
 * and its value.
 */
export function numberSettingSchema(options: NumberSettingOptions) {
  const { blank, malformed } = settingMessages(options);
  const parse = options.fraction === true ? parsePlainDecimal : parsePlainInteger;
  const number = options.fraction === true ? z.number() : z.number().int();
  return z
    .preprocess((value, context) => {
      if (typeof value !== 'string') {
        return value;
      }
      const parsed = parse(value);
      if (parsed === undefined) {
        // Fatal, so that the range check does not also report the unparsed value.
        context.addIssue({ code: z.ZodIssueCode.custom, message: value.trim() === '' ? blank : malformed, fatal: true });
        return z.NEVER;
      }
      return parsed;
    }, number.min(options.min).max(options.max))
    .default(options.default);
}

function settingMessages(options: NumberSettingOptions): { blank: string; malformed: string } {
  const kind = options.fraction === true ? 'number' : 'whole number';
  const quantity = options.unit === undefined ? kind : `${kind} of ${options.unit}`;
  const example = String(options.default);
  const sign = options.min < 0 ? 'a plus sign' : 'a sign';
  const blank = `is blank; set a ${quantity} such as ${example}, or unset it to use the default ${example}`;
  if (options.fraction === true) {
    return { blank, malformed: `is not a ${quantity} in plain decimal notation; write it like ${example} or 0.5, without ${sign}, spaces, an exponent or a 0x prefix` };
  }
  const examples = options.min < 0 ? `${example} or ${String(options.min)}` : example;
  return { blank, malformed: `is not a ${quantity} in plain digits; write it like ${examples}, without ${sign}, spaces, leading zeros, an exponent or a 0x prefix` };
}
