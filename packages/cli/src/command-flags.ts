import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The flag declarations of one command, as node:util parseArgs takes them. */
export type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** A command line the command cannot run: an unknown flag, a missing value or a repeated flag. */
export class FlagError extends Error {
  override readonly name = 'FlagError';
}

/**
 * Parses the flags of `nexttap <command>` with node:util parseArgs and rewrites its errors into
 * one sentence that names the flag and the fix. `valueExamples` gives, for each flag that takes a
 * value, what it expects with an example, for the message when the value is missing. A repeated
 * flag that takes one value is an error, because parseArgs would silently keep the last value;
 * flags declared `multiple` may repeat. `passedFlags` contains the names of the flags on the
 * command line, so a command can tell a flag that was passed from one that only has its default.
 *
 * @throws FlagError naming the flag that is unknown, lacks its value, takes none, or is repeated
 */
export function parseFlags<const Options extends FlagOptions>(
  command: string,
  args: readonly string[],
  options: Options,
  valueExamples: Readonly<Record<string, string>>,
) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new FlagError(describeParseError(command, options, valueExamples, error, args));
  }
  checkRepeatedFlags(options, parsed.tokens);
  const passedFlags = new Set(parsed.tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : [])));
  return { values: parsed.values, positionals: parsed.positionals, passedFlags };
}

function checkRepeatedFlags(options: FlagOptions, tokens: ReadonlyArray<{ kind: string; name?: string; value?: string | undefined }>): void {
  const values = new Map<string, string[]>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined || token.value === undefined || options[token.name]?.multiple === true) {
      continue;
    }
    const flagValues = [...(values.get(token.name) ?? []), token.value];
    if (flagValues.length > 1) {
      throw new FlagError(`--${token.name} is repeated (${flagValues.join(', then ')}); it takes one value, so pass it once`);
    }
    values.set(token.name, flagValues);
  }
}

/** Rewrites a node:util parseArgs error into one sentence that names the flag. */
function describeParseError(command: string, options: FlagOptions, valueExamples: Readonly<Record<string, string>>, error: unknown, args: readonly string[]): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
  // parseArgs reads a value that starts with a dash, such as -5, as a flag of its own.
  const next = args[args.indexOf(flag) + 1];
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && next !== undefined && /^-\d/.test(next)) {
    const example = valueExamples[flag.replace(/^--?/, '')];
    return `${flag} ${next} is negative; ${example === undefined ? `run nexttap ${command} --help for the values it takes` : `pass ${example}`}`;
  }
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    return `${flag} is not a flag of nexttap ${command}; run nexttap ${command} --help for the flags`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = flag.replace(/^--?/, '');
    const declared = Object.hasOwn(options, name) ? options[name] : undefined;
    if (declared === undefined) {
      return `${flag} needs a value; run nexttap ${command} --help for the flags`;
    }
    if (declared.type === 'boolean') {
      return `${flag} takes no value; pass ${flag} alone`;
    }
    const example = valueExamples[name];
    return example === undefined ? `${flag} needs a value; run nexttap ${command} --help for the flags` : `${flag} needs ${example}`;
  }
  return message;
}
