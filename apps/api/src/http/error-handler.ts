import { PostgresUnavailableError } from '@glassdome/db';
import { RedisUnavailableError } from '@glassdome/queue';
import type { NextFunction, Request, Response } from 'express';
import {
  ApiError,
  ConflictError,
  NotFoundError,
  RetryLaterError,
  ServiceUnavailableError,
  ValidationError,
} from '../errors';
import { BodyTooDeepError } from './body';

/** Codes with which node or Postgres says the database cannot serve us right now. */
const POSTGRES_DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000',
  '08001',
  '08003',
  '08006',
]);

function isPostgresDown(error: unknown): boolean {
  if (error instanceof PostgresUnavailableError) return true;
  const err = error as { code?: unknown; message?: unknown };
  if (typeof err.code === 'string' && POSTGRES_DOWN_CODES.has(err.code)) return true;
  const message = typeof err.message === 'string' ? err.message : '';
  return /timeout exceeded when trying to connect|Connection terminated|connection .* closed/i.test(message);
}

/** body-parser's errors carry `type` and `status`; turn them into the API's own. */
function fromBodyParser(error: { type?: unknown; status?: unknown }): ApiError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return new ApiError(413, 'payload_too_large', 'the request body is too large');
    case 'entity.parse.failed':
      return new ValidationError([{ path: '', message: 'is not valid JSON' }], 'the request body is not valid JSON');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new ApiError(415, 'unsupported_media_type', 'unsupported charset or content encoding');
    default:
      return typeof error.status === 'number' && error.status >= 400 && error.status < 500
        ? new ApiError(error.status, 'bad_request', 'the request could not be read')
        : undefined;
  }
}

/** Any error, as the API error a client should see. Unknown errors become undefined (a 500). */
export function classify(error: unknown): ApiError | undefined {
  // body-parser re-labels an error from `verify` as its own 403; the cause is what the client needs.
  if (error instanceof BodyTooDeepError) {
    return new ValidationError([{ path: '', message: `nests deeper than ${error.limit} levels` }], error.message);
  }
  if (error instanceof ApiError) return error;
  if (error instanceof RedisUnavailableError) return new ServiceUnavailableError('Redis');
  if (isPostgresDown(error)) return new ServiceUnavailableError('Postgres');
  const code = (error as { code?: unknown }).code;
  if (code === '23505') return new ConflictError('a resource with that name already exists');
  if (code === '22P02') return new NotFoundError('resource');
  return error && typeof error === 'object' ? fromBodyParser(error) : undefined;
}

/** The last middleware: every error becomes `{"error": {...}}`; only our own bugs become a 500, without a stack. */
export function errorHandler(error: unknown, req: Request, res: Response, _next: NextFunction) {
  const known = classify(error);
  if (res.headersSent) {
    req.log.warn({ err: error }, 'error after the answer started');
    res.end();
    return;
  }
  if (!known) {
    req.log.error({ err: error }, 'unexpected error');
    res.status(500).json({ error: { code: 'internal', message: `internal error (request ${req.id})` } });
    return;
  }
  if (known.status >= 500) req.log.warn({ code: known.code }, known.message);
  if (known instanceof RetryLaterError) res.setHeader('Retry-After', String(known.retryAfterSeconds));
  const body: Record<string, unknown> = { code: known.code, message: known.message };
  if (known.details !== undefined) body.details = known.details;
  res.status(known.status).json({ error: body });
}

/** 404 for paths no route matched. */
export function notFound(req: Request, _res: Response, next: NextFunction) {
  next(new NotFoundError(`${req.method} ${req.path}`));
}
