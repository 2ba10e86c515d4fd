import { ApiError, type HttpErrorCodes } from '@nexttap/http';

/**
 * Error catalogue of the ranker. Codes are stable: clients branch on them, and docs/errors.md lists
 * each with its status (a test keeps the two in sync).
 */
export const RANKER_ERRORS = {
  RANKER_ERR_INVALID_REQUEST: { statusCode: 400, description: 'A field of the request is missing or invalid (an id with whitespace around it included), or a query parameter is unknown (the POST routes take none), given twice or not valid percent-encoded UTF-8, or a next page (`cursor`) has `candidates` or another `userId` than its first page, or an experiment id in the path has whitespace around it; the message names the field.' },
  RANKER_ERR_INVALID_JSON: { statusCode: 400, description: 'The body is not valid JSON (the message names the first problem and its byte offset), is not valid UTF-8 (the message gives the offset of the first invalid byte), or contains a `__proto__` or `constructor.prototype` key, which the server rejects against prototype poisoning.' },
  RANKER_ERR_BODY_TOO_LARGE: { statusCode: 413, description: 'The body is larger than the configured limit.' },
  RANKER_ERR_UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, description: 'The body is not application/json, or it has a content-encoding such as gzip, which the server does not decode; send uncompressed JSON.' },
  RANKER_ERR_INVALID_CURSOR: { statusCode: 400, description: 'The cursor is not one this ranker issued; send the nextCursor of the previous page unchanged.' },
  RANKER_ERR_CURSOR_EXPIRED: { statusCode: 410, description: 'The feed the cursor pages through has expired or belongs to another session; request a first page without a cursor.' },
  RANKER_ERR_NOT_READY: { statusCode: 503, description: 'No model is loaded yet; retry after the Retry-After seconds.' },
  RANKER_ERR_TOO_MANY_LIVE_FEEDS: { statusCode: 503, description: 'This ranker has as many open live feeds as it accepts; retry after the Retry-After seconds, or use POST /v1/feed.' },
  RANKER_ERR_UNAUTHORIZED: { statusCode: 401, description: 'An admin route was called without the bearer token of ADMIN_TOKEN, or with another one; send Authorization: Bearer <token>.' },
  RANKER_ERR_MODEL_NOT_FOUND: { statusCode: 404, description: 'The model version is not in the registry (MODELS_DIR); GET /v1/admin/models lists those that are.' },
  RANKER_ERR_MODEL_INVALID: { statusCode: 422, description: 'The model version failed validation and was not activated; the message names the field and the fix.' },
  RANKER_ERR_NO_PREVIOUS_MODEL: { statusCode: 409, description: 'Rollback was requested but the rollback history is empty: no model was activated since the ranker started, or earlier rollbacks already switched back to every model it kept.' },
  RANKER_ERR_EXPERIMENT_NOT_FOUND: { statusCode: 404, description: 'No experiment with this id runs now or has a stored record (its variants and counters, kept 90 days after their last update).' },
  RANKER_ERR_INTERNAL: { statusCode: 500, description: 'An unexpected failure; the log has the details under the request id.' },
} as const;

export type RankerErrorCode = keyof typeof RANKER_ERRORS;

/** Builds an ApiError from the catalogue, with the status it lists. */
export function rankerError(code: RankerErrorCode, message: string, details: ConstructorParameters<typeof ApiError>[3] = {}): ApiError {
  return new ApiError(code, RANKER_ERRORS[code].statusCode, message, details);
}

export const RANKER_HTTP_CODES: HttpErrorCodes = {
  invalidJson: 'RANKER_ERR_INVALID_JSON',
  bodyTooLarge: 'RANKER_ERR_BODY_TOO_LARGE',
  unsupportedMediaType: 'RANKER_ERR_UNSUPPORTED_MEDIA_TYPE',
  internal: 'RANKER_ERR_INTERNAL',
};
