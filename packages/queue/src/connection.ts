import type { Socket } from 'node:net';
import { describeRedisTarget, parseRedisUrl, type RedisTarget } from '@glassdome/config';
import { createLogger, type Logger } from '@glassdome/logger';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/**
 * A connection to what REDIS_URL names: one server or a Sentinel-watched master (a `Redis`), or a
 * Redis Cluster (a `Cluster`). BullMQ and our own commands (admission included) take either.
 */
export type RedisConnection = Redis | Cluster;

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

/**
 * The ioredis client for `target`: `options` go to every data connection (the server, the master a
 * Sentinel set names, each cluster node); `cluster` to the cluster client itself.
 */
function connect(
  url: string,
  target: RedisTarget,
  options: RedisOptions,
  cluster: ClusterOptions = {},
): RedisConnection {
  const auth = {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
  };
  switch (target.kind) {
    case 'server':
      return new Redis(url, options);
    case 'sentinel':
      return new Redis({
        ...options,
        ...auth,
        sentinels: target.sentinels,
        name: target.master,
        db: target.db,
        // No +switch-master watcher: with it (ioredis 5.11) a master killed mid-traffic left every
        // client of the process ended for good ("Connection is closed.") once the replica was
        // promoted; without it each reconnect asks the Sentinels again and finds the new master
        // within seconds (6 of 6 clients ready 4 s after the kill, on every try).
        failoverDetector: false,
        ...(options.retryStrategy ? { sentinelRetryStrategy: options.retryStrategy } : {}),
        ...(target.sentinelAuth ? { sentinelUsername: target.username, sentinelPassword: target.password } : {}),
        ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      });
    case 'cluster':
      return new Cluster(target.nodes, {
        ...cluster,
        redisOptions: { ...options, ...auth, ...(target.tls ? { tls: {} } : {}) },
        ...(options.retryStrategy !== undefined ? { clusterRetryStrategy: options.retryStrategy } : {}),
      });
  }
}

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}, logger?: Logger): RedisConnection {
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
  // A cluster client queues commands itself while it learns the slots; the producer's fail fast.
  const redis = connect(url, parseRedisUrl(url), options, {
    enableOfflineQueue: role !== 'producer',
    enableReadyCheck: true,
  });
  // Commands that fail carry the error to their callers; the connection's own errors are logged once
  // per outage (an unhandled 'error' would also crash the process).
  const reporter = redisErrorReporter(logger, { redis: describeRedisUrl(url), role });
  redis.on('error', reporter);
  redis.on('ready', () => reporter.ended());
  return redis;
}

/**
 * ioredis writes each command to its socket at once, one system call each. A worker's commands come
 * in bursts (the jobs that ended in one turn of the event loop each move to completed and fetch the
 * next), and on loopback each write also runs the TCP delivery to Redis in the writer's time: the
 * writes were half of a no-op worker's CPU. Corked at its first write and uncorked once the current
 * callback and its promise continuations have run (process.nextTick), the socket sends their commands
 * in one write, in the same order. The producer's connection too: a finished lab task adds every
 * task it made ready in one turn.
 * Each socket the connection opens (reconnects too); a cluster's connections are left as they are.
 */
export function writeOncePerTurn(redis: RedisConnection): void {
  if (!(redis instanceof Redis)) return;
  const corked = new WeakSet<Socket>();
  const hook = () => {
    const socket = (redis as unknown as { stream?: Socket }).stream;
    if (!socket || corked.has(socket)) return;
    corked.add(socket);
    const write = socket.write;
    socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
      if (this.writableCorked === 0) {
        this.cork();
        process.nextTick(uncork, this);
      }
      return write.apply(this, args);
    } as Socket['write'];
  };
  hook();
  redis.on('connect', hook);
}

function uncork(socket: Socket): void {
  socket.uncork();
}

/** Resolves once the connection is ready; rejects with RedisUnavailableError after `timeoutMs`. */
export async function waitForRedis(redis: RedisConnection, url: string, timeoutMs = 5_000): Promise<void> {
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

/** Where REDIS_URL points, for logs and errors (hosts and names, never a password). */
export function describeRedisUrl(url: string): string {
  return describeRedisTarget(url);
}

/** PINGs Redis once with a short timeout; throws RedisUnavailableError naming the target and cause. */
export async function checkRedis(url: string): Promise<void> {
  let redis: RedisConnection | undefined;
  try {
    redis = connect(
      url,
      parseRedisUrl(url),
      {
        lazyConnect: true,
        connectTimeout: 2_000,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        retryStrategy: () => null,
      },
      { lazyConnect: true, enableOfflineQueue: false },
    );
    redis.on('error', () => {});
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    throw new RedisUnavailableError(describeRedisUrl(url), err.code ?? err.message);
  } finally {
    redis?.disconnect();
  }
}
