import type { Producer } from '@glassdome/queue';
import type { NextFunction, Request, Response } from 'express';
import { bearerHashOf } from '../auth/keys';
import { RateLimitedError } from '../errors';

export interface RateLimitOptions {
  /** Shared counters live here, so every API replica counts against the same budget. */
  redis: Producer['connection'];
  /** Queue prefix; the counters' keys sit under it (`{prefix}:ratelimit:…`). */
  prefix: string;
  /** Requests allowed per key per window. */
  limit: number;
  /** Window length. @defaultValue 60000 */
  windowMs?: number;
  /**
   * What is counted: `key` (the authenticated principal's key) or `address` (the client's address,
   * before authentication, so unknown keys cost no Postgres lookup beyond the budget). @defaultValue 'key'
   */
  per?: 'key' | 'address';
  /** Names the budget, so two limiters on the same key count separately. @defaultValue 'api' */
  bucket?: string;
}

/**
 * Adds `ARGV[2i-1]` to the counter `KEYS[i]` for each i and returns the sums; a new counter expires
 * after its window (`ARGV[2i]` ms). One script call moves every counter of a turn of the event loop
 * (the keys share the prefix's hash tag, so they sit in one slot of a cluster too).
 */
const COUNT = `local counts = {}
for i, key in ipairs(KEYS) do
  local added = tonumber(ARGV[2 * i - 1])
  local n = redis.call('INCRBY', key, added)
  if n == added then redis.call('PEXPIRE', key, ARGV[2 * i]) end
  counts[i] = n
end
return counts`;

type Waiter = (count: number | undefined) => void;

/**
 * The counters of one Redis connection, moved in batches: the requests of one turn of the event
 * loop that count against any counter share one script call (`INCRBY` by how many they are per
 * counter), and each gets the count its own `INCR` would have given, so the limits are as exact as
 * one request at a time and a burst costs one round trip, not one per request and limiter.
 */
class CounterBatch {
  readonly #waiting = new Map<string, { windowMs: number; waiters: Waiter[] }>();

  constructor(private readonly redis: Producer['connection']) {}

  /** The count of `redisKey` with this request added; undefined when Redis did not answer. */
  add(redisKey: string, windowMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      if (this.#waiting.size === 0) setImmediate(() => this.#send());
      const entry = this.#waiting.get(redisKey);
      if (entry) entry.waiters.push(resolve);
      else this.#waiting.set(redisKey, { windowMs, waiters: [resolve] });
    });
  }

  #send(): void {
    const entries = [...this.#waiting];
    this.#waiting.clear();
    const settle = (totals: unknown) => {
      entries.forEach(([, { waiters }], i) => {
        const total = Array.isArray(totals) ? totals[i] : undefined;
        for (const [index, resolve] of waiters.entries()) {
          resolve(typeof total === 'number' ? total - waiters.length + index + 1 : undefined);
        }
      });
    };
    const args = entries.flatMap(([, { windowMs, waiters }]) => [waiters.length, windowMs]);
    this.redis
      .eval(COUNT, entries.length, ...entries.map(([key]) => key), ...args)
      .then(settle, () => settle(undefined));
  }
}

const batches = new WeakMap<Producer['connection'], CounterBatch>();

function counterBatch(redis: Producer['connection']): CounterBatch {
  let batch = batches.get(redis);
  if (!batch) {
    batch = new CounterBatch(redis);
    batches.set(redis, batch);
  }
  return batch;
}

/** A rate limiter; one per key can also start its count before authentication (`prefetch`). */
export interface RateLimiter {
  (req: Request, res: Response, next: NextFunction): Promise<void>;
  /**
   * Starts counting the request against its key's budget while an earlier limiter counts its
   * address, in the same round trip — when the bearer key was seen authenticated before, so its id
   * is known. The limiter itself still decides after authentication, as it would have.
   */
  prefetch(req: Request): void;
}

/**
 * Fixed-window counters per API key or per client address, shared by every API replica through
 * Redis and moved in batches (`CounterBatch`). While Redis is down the counters fall back to this
 * process's memory, so a Redis outage neither blocks reads nor lifts the limit.
 */
export function rateLimit(
  options: RateLimitOptions & { prefetching?: readonly { prefetch(req: Request): void }[] },
): RateLimiter {
  const windowMs = options.windowMs ?? 60_000;
  const local = new Map<string, number>();
  let localWindow = -1;

  function countLocally(key: string, window: number): number {
    if (window !== localWindow) {
      local.clear();
      localWindow = window;
    }
    const count = (local.get(key) ?? 0) + 1;
    local.set(key, count);
    return count;
  }

  function countInRedis(key: string, window: number): Promise<number | undefined> {
    if (options.redis.status !== 'ready') return Promise.resolve(undefined);
    return counterBatch(options.redis).add(`${options.prefix}:ratelimit:${key}:${window}`, windowMs);
  }

  const per = options.per ?? 'key';
  const bucket = options.bucket ?? 'api';
  const counterOf = (who: string) => (bucket === 'api' ? who : `${bucket}:${who}`);
  /** Key ids of bearer keys (by hash) that authenticated before: never a secret, only who to count. */
  const keyIds = new Map<string, string>();
  const prefetched = new WeakMap<Request, { keyId: string; window: number; count: Promise<number | undefined> }>();

  const limiter = async (req: Request, _res: Response, next: NextFunction) => {
    for (const later of options.prefetching ?? []) later.prefetch(req);
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    const who =
      per === 'address' ? `addr:${req.socket.remoteAddress ?? 'unknown'}` : (req.principal?.keyId ?? 'anonymous');
    const early = prefetched.get(req);
    const counted =
      early && early.keyId === who && early.window === window ? early.count : countInRedis(counterOf(who), window);
    const count = (await counted) ?? countLocally(counterOf(who), window);
    if (per === 'key' && req.principal && !req.webSession) {
      const hash = bearerHashOf(req);
      if (hash && keyIds.get(hash) !== who) {
        if (keyIds.size >= 10_000) keyIds.clear();
        keyIds.set(hash, who);
      }
    }
    if (count > options.limit) {
      throw new RateLimitedError(Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000)), per);
    }
    next();
  };
  return Object.assign(limiter, {
    prefetch(req: Request) {
      if (per !== 'key' || options.redis.status !== 'ready') return;
      const hash = bearerHashOf(req);
      const keyId = hash && keyIds.get(hash);
      if (!keyId) return;
      const window = Math.floor(Date.now() / windowMs);
      prefetched.set(req, { keyId, window, count: countInRedis(counterOf(keyId), window) });
    },
  });
}
