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
 * True when `error` (or an error it wraps as `cause`, or one of an AggregateError's) says Postgres or
 * Redis is unreachable. Errors of the Proxmox and SSH clients are their own named classes without
 * these codes, so an unreachable Proxmox or guest is never mistaken for an outage of ours.
 */
export function isBackingServiceOutage(error: unknown, depth = 0): boolean {
  if (depth > 3 || !error || typeof error !== 'object') return false;
  if (isUnavailableShape(error)) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isBackingServiceOutage(inner, depth + 1))) {
    return true;
  }
  return isBackingServiceOutage((error as { cause?: unknown }).cause, depth + 1);
}
