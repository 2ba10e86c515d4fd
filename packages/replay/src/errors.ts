/**
 * Stable codes of replay failures. Callers branch on the code, never on the message text.
 */
export const REPLAY_ERROR_CODES = {
  /** An option or flag has an invalid value. */
  invalidOption: 'REPLAY_ERR_INVALID_OPTION',
  /** An input file, folder or topic could not be read. */
  unreadableInput: 'REPLAY_ERR_UNREADABLE_INPUT',
  /** A model could not be found or failed validation. */
  invalidModel: 'REPLAY_ERR_INVALID_MODEL',
  /** The output folder could not be created or written. */
  unwritableOutput: 'REPLAY_ERR_UNWRITABLE_OUTPUT',
  /** A report given to `--compare` is not a replay report of a supported schema version. */
  invalidReport: 'REPLAY_ERR_INVALID_REPORT',
} as const;

export type ReplayErrorCode = (typeof REPLAY_ERROR_CODES)[keyof typeof REPLAY_ERROR_CODES];

/** A replay failure with a stable code; the message names the option, file or topic at fault. */
export class ReplayError extends Error {
  override readonly name = 'ReplayError';

  constructor(
    readonly code: ReplayErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Returns the message of an unknown thrown value. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
