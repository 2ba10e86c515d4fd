/**
 * Stable codes of `BusError`. Branch on these, never on message text.
 *
 * - `BUS_ERR_INVALID_ARGUMENT`: an option or argument is invalid. Fix the caller.
 * - `BUS_ERR_CLOSED`: the bus or subscription was closed before or during the call.
 * - `BUS_ERR_UNKNOWN_TOPIC`: the topic does not exist. Create it first.
 * - `BUS_ERR_PRODUCE_FAILED`: the broker did not acknowledge every record.
 * - `BUS_ERR_SUBSCRIBE_FAILED`: the consumer could not join its group.
 * - `BUS_ERR_CONNECT_FAILED`: no broker accepted a connection.
 */
export type BusErrorCode =
  | 'BUS_ERR_INVALID_ARGUMENT'
  | 'BUS_ERR_CLOSED'
  | 'BUS_ERR_UNKNOWN_TOPIC'
  | 'BUS_ERR_PRODUCE_FAILED'
  | 'BUS_ERR_SUBSCRIBE_FAILED'
  | 'BUS_ERR_CONNECT_FAILED';

export interface BusErrorOptions {
  /** Whether the same call may succeed later without a change by the caller. Defaults to false. */
  retriable?: boolean;
  cause?: unknown;
}

/** An error of either event bus implementation, with a stable code and the underlying error as `cause`. */
export class BusError extends Error {
  override readonly name = 'BusError';
  readonly code: BusErrorCode;
  readonly retriable: boolean;

  constructor(code: BusErrorCode, message: string, options: BusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Returns the error's message, or its string form when it is not an Error. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Returns whether a kafkajs error may succeed on a later attempt, by the rule
 * that kafkajs 2.2 uses to restart a crashed consumer: the error ended a
 * retry loop, or its innermost `cause` is marked retriable.
 */
export function isRetriableKafkaError(error: unknown): boolean {
  if (error instanceof Error && error.name === 'KafkaJSNumberOfRetriesExceeded') {
    return true;
  }
  let root: unknown = error;
  while (root instanceof Error && root.cause !== undefined) {
    root = root.cause;
  }
  return (root as { retriable?: unknown } | null)?.retriable === true;
}
