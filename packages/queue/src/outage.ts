/**
 * Errors that say "Postgres or Redis cannot serve us right now", as opposed to errors of the work
 * itself. A job that meets one has not failed: it waits (delayed, no attempt spent) and runs again
 * once the service is back, so an outage longer than a job's retry budget never fails it for good.
 * Classified by shape (codes, names, driver messages), so this package needs neither driver's classes.
 */

/** Socket-level codes node gives when a server is down or the connection to it broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

/** Postgres SQLSTATEs of a server that is restarting, shutting down or out of connection slots. */
const POSTGRES_UNAVAILABLE_CODES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
]);

/** Error names our own code and the drivers give to "the service is unreachable". */
const UNAVAILABLE_NAMES = new Set(['PostgresUnavailableError', 'RedisUnavailableError', 'MaxRetriesPerRequestError']);

/** What node-postgres and ioredis say when the connection is gone (they carry no code then). */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/, // pg: server closed the connection, or connect timed out
  /timeout exceeded when trying to connect/, // pg-pool
  /Client has encountered a connection error and is not queryable/, // pg
  /^Connection is closed\.?$/, // ioredis
  /Stream isn't writeable and enableOfflineQueue options is false/, // ioredis, fail-fast connections
  /Reached the max retries per request limit/, // ioredis
];

function isUnavailableShape(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || POSTGRES_UNAVAILABLE_CODES.has(code))) return true;
  if (typeof name === 'string' && UNAVAILABLE_NAMES.has(name)) return true;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message));
}

/**
 * Postgres SQLSTATEs of a transaction rolled back because it ran into another one: nothing of it was
 * kept, and running it again is the cure.
 */
const POSTGRES_CONFLICT_CODES = new Set([
  '40P01', // deadlock_detected
  '40001', // serialization_failure
]);

function isConflictShape(error: unknown): boolean {
  const code = error && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && POSTGRES_CONFLICT_CODES.has(code);
}

/** True when `error`, an error it wraps as `cause` or one of an AggregateError's, has the shape. */
function someInChain(error: unknown, shape: (error: unknown) => boolean, depth = 0): boolean {
  if (depth > 3 || !error || typeof error !== 'object') return false;
  if (shape(error)) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => someInChain(inner, shape, depth + 1))) {
    return true;
  }
  return someInChain((error as { cause?: unknown }).cause, shape, depth + 1);
}

/**
 * True when `error` (or an error it wraps) says Postgres or Redis is unreachable. Errors of the
 * Proxmox and SSH clients are their own named classes without these codes, so an unreachable Proxmox
 * or guest is never mistaken for an outage of ours.
 */
export function isBackingServiceOutage(error: unknown): boolean {
  return someInChain(error, isUnavailableShape);
}

/**
 * True when `error` (or an error it wraps) is a Postgres transaction rolled back by a deadlock or a
 * serialization failure. Like an outage, it says nothing about the work: the job runs again without
 * spending an attempt, so a task that met a few of them in a busy moment never fails for good.
 */
export function isTransactionConflict(error: unknown): boolean {
  return someInChain(error, isConflictShape);
}

/**
 * True when `error` (or an error it wraps) is packages/db's PostgresPoolBusyError: every Postgres
 * connection of the process was in use for as long as the caller could wait, an outage in its words.
 */
export function isPostgresPoolBusy(error: unknown): boolean {
  return someInChain(error, (each) => (each as { name?: unknown }).name === 'PostgresPoolBusyError');
}
