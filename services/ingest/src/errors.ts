import { ApiError, type HttpErrorCodes } from '@nexttap/http';

/**
 * Error catalogue of the ingest role (collector and consumer). Codes are stable; docs/errors.md
 * lists each with its status (a test keeps the two in sync). Rejection codes of single events
 * (`EVENT_*`) come from the event contract.
 */
export const INGEST_ERRORS = {
  INGEST_ERR_INVALID_REQUEST: { statusCode: 400, description: 'The body is not of the form {"events": [...]} (or {"items": [...]} for the catalog), breaks a limit, or has two valid events of one session with the same eventId (two items with the same itemId for the catalog), or the request has a query parameter, which these routes do not take; the message names the field.' },
  INGEST_ERR_ALL_EVENTS_REJECTED: { statusCode: 400, description: 'Every entry of the request (event or catalog item) failed validation; `rejected` lists each reason.' },
  INGEST_ERR_INVALID_JSON: { statusCode: 400, description: 'The body is not valid JSON (the message names the first problem and its byte offset), is not valid UTF-8 (the message gives the offset of the first invalid byte), or contains a `__proto__` or `constructor.prototype` key, which the server rejects against prototype poisoning.' },
  INGEST_ERR_BODY_TOO_LARGE: { statusCode: 413, description: 'The body is larger than the configured limit.' },
  INGEST_ERR_UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, description: 'The body is not application/json, or it has a content-encoding such as gzip, which the server does not decode; send uncompressed JSON.' },
  INGEST_ERR_BUS_UNAVAILABLE: { statusCode: 503, description: 'The event bus did not acknowledge the events; none were accepted, so retry them all after Retry-After.' },
  INGEST_ERR_INTERNAL: { statusCode: 500, description: 'An unexpected failure; the log has the details under the request id.' },
} as const;

export type IngestErrorCode = keyof typeof INGEST_ERRORS;

/** Builds an ApiError from the catalogue, with the status it lists. */
export function ingestError(code: IngestErrorCode, message: string, details: ConstructorParameters<typeof ApiError>[3] = {}): ApiError {
  return new ApiError(code, INGEST_ERRORS[code].statusCode, message, details);
}

export const INGEST_HTTP_CODES: HttpErrorCodes = {
  invalidJson: 'INGEST_ERR_INVALID_JSON',
  bodyTooLarge: 'INGEST_ERR_BODY_TOO_LARGE',
  unsupportedMediaType: 'INGEST_ERR_UNSUPPORTED_MEDIA_TYPE',
  internal: 'INGEST_ERR_INTERNAL',
};
