import { createLogger, type Logger } from '@glassdome/logger';
import { Redis, type RedisOptions } from 'ioredis';

/** Used when a caller passes no logger: connection errors are still reported, once per outage. */
let fallbackLogger: Logger | undefined;
function defaultLogger(): Logger {
  fallbackLogger ??= createLogger({ name: 'redis', format: 'json' });
  return fallbackLogger;
}

/** How long an error reporter stays quiet after a line, counting what it swallowed meanwhile. */
const REPORT_QUIET_MS = 30_000;

/**
 * An `error` listener for a Redis connection or a BullMQ queue, worker or flow producer. Without one,
 * node crashes (ioredis) or BullMQ prints multi-line stacks on every failed command of an outage; this
 * writes one structured warning (code and message, no stack) and then at most one more per 30 s,
 * counting the errors it did not repeat. `ended()` logs that the connection is back.
 */
export function redisErrorReporter(logger: Logger | undefined, fields: Record<string, unknown>) {
  const log = logger ?? defaultLogger();
  let quietUntil = 0;
  let swallowed = 0;
  let failing = false;
  const report = (error: unknown) => {
    failing = true;
    const now = Date.now();
    if (now < quietUntil) {
      swallowed += 1;
      return;
    }
    const err = error as { code?: unknown; message?: unknown; name?: unknown };
    log.warn(
      {
        ...fields,
        code: typeof err?.code === 'string' ? err.code : undefined,
        error: typeof err?.message === 'string' ? err.message.split('\n')[0] : String(error),
        ...(swallowed > 0 ? { repeated: swallowed } : {}),
      },
      'Redis connection error',
    );
    swallowed = 0;
    quietUntil = now + REPORT_QUIET_MS;
  };
  return Object.assign(report, {
    /** The connection works again. */
    ended() {
      if (!failing) return;
      failing = false;
      quietUntil = 0;
      swallowed = 0;
      log.info(fields, 'Redis connection ready again');
    },
  });
}

/**
 * `producer`: the API's connection. Commands fail fast while Redis is down (no offline queue, one
 * retry), so a request can be answered 503 instead of hanging.
 * `worker`: BullMQ workers need `maxRetriesPerRequest: null` so blocking commands wait out an outage.
 */
export type RedisRole = 'producer' | 'worker';

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}, logger?: Logger): Redis {
  const common: RedisOptions = {
    connectTimeout: 3_000,
    // Reconnect forever with a capped backoff: processes outlive Redis restarts.
    retryStrategy: (attempt) => Math.min(200 * attempt, 3_000),
    ...extra,
  };
  const options: RedisOptions =
    role === 'producer'
      ? { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false }
      : { ...common, maxRetriesPerRequest: null, enableReadyCheck: true };
  const redis = new Redis(url, options);
  // Commands that fail carry the error to their callers; the connection's own errors are logged once
  // per outage (an unhandled 'error' would also crash the process).
  const reporter = redisErrorReporter(logger, { redis: describeRedisUrl(url), role });
  redis.on('error', reporter);
  redis.on('ready', () => reporter.ended());
  return redis;
}

/** Resolves once the connection is ready; rejects with RedisUnavailableError after `timeoutMs`. */
export async function waitForRedis(redis: Redis, url: string, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new RedisUnavailableError(describeRedisUrl(url), `not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    function onReady() {
      clearTimeout(timer);
      resolve();
    }
    redis.once('ready', onReady);
  });
}

/** Raised when Redis cannot be reached, with what to do about it. */
export class RedisUnavailableError extends Error {
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(
      `Redis at ${target} is not available (${reason}); start it (e.g. \`redis-server --daemonize yes\` or \`docker compose up -d redis\`) and check REDIS_URL`,
    );
    this.name = 'RedisUnavailableError';
  }
}

export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** PINGs Redis once with a short timeout; throws RedisUnavailableError naming the target and cause. */
export async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    throw new RedisUnavailableError(describeRedisUrl(url), err.code ?? err.message);
  } finally {
    redis.disconnect();
  }
}
