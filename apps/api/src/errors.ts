/** A field that failed validation: where it is (dotted path, '' for the whole value) and why. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** An error the API answers with its own status and `{"error": {code, message, details?}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ValidationError extends ApiError {
  constructor(
    readonly issues: FieldIssue[],
    message = 'the request is invalid',
  ) {
    super(400, 'invalid_request', message, issues);
    this.name = 'ValidationError';
  }
}

export class UnauthorizedError extends ApiError {
  constructor(message = 'a valid API key is required (Authorization: Bearer <key>)') {
    super(401, 'unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

export class ForbiddenError extends ApiError {
  constructor(needed: string) {
    super(403, 'forbidden', `this needs the ${needed} role`);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends ApiError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends ApiError {
  constructor(message: string, details?: unknown) {
    super(409, 'conflict', message, details);
    this.name = 'ConflictError';
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  constructor(accepted: string[]) {
    super(415, 'unsupported_media_type', `Content-Type must be one of: ${accepted.join(', ')}`);
    this.name = 'UnsupportedMediaTypeError';
  }
}

/** Answers that tell the client when to come back carry `Retry-After` (seconds). */
export class RetryLaterError extends ApiError {
  constructor(
    status: 429 | 503,
    code: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(status, code, message);
    this.name = 'RetryLaterError';
  }
}

export class RateLimitedError extends RetryLaterError {
  constructor(retryAfterSeconds: number, per: 'key' | 'address' = 'key') {
    super(
      429,
      'rate_limited',
      per === 'key' ? 'too many requests for this API key' : 'too many requests from this address',
      retryAfterSeconds,
    );
    this.name = 'RateLimitedError';
  }
}

export class ServiceUnavailableError extends RetryLaterError {
  constructor(service: 'Redis' | 'Postgres', retryAfterSeconds = 5) {
    super(503, 'unavailable', `${service} is unavailable; nothing was done, try again later`, retryAfterSeconds);
    this.name = 'ServiceUnavailableError';
  }
}
