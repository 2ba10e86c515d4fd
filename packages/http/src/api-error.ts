/**
 * An error with a stable code that reaches the client as `{ "error": { code, message, field } }`,
 * plus the top-level fields in `details.extra`. Each service builds these from its own catalogue.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly details: { field?: string; headers?: Record<string, string>; cause?: unknown; extra?: Record<string, unknown> } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }
}

/** Codes a service uses for errors raised by the HTTP layer before its own handlers run. */
export interface HttpErrorCodes {
  invalidJson: string;
  bodyTooLarge: string;
  unsupportedMediaType: string;
  internal: string;
}

/** The body of every error reply. */
export interface ErrorReplyBody {
  error: { code: string; message: string; field?: string };
  [extra: string]: unknown;
}
