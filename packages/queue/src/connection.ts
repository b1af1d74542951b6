import { Redis, type RedisOptions } from 'ioredis';

/**
 * `producer`: the API's connection. Commands fail fast while Redis is down (no offline queue, one
 * retry), so a request can be answered 503 instead of hanging.
 * `worker`: BullMQ workers need `maxRetriesPerRequest: null` so blocking commands wait out an outage.
 */
export type RedisRole = 'producer' | 'worker';

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
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
  // Connection errors surface through the commands that fail; an unhandled 'error' must not crash us.
  redis.on('error', () => {});
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
