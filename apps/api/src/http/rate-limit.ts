import type { Producer } from '@glassdome/queue';
import type { NextFunction, Request, Response } from 'express';
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
 * Adds `ARGV[1]` to the counter `KEYS[1]` and returns the sum; a new counter expires after the
 * window (`ARGV[2]` ms). One command, so no MULTI.
 */
const COUNT = `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`;

/**
 * Fixed-window counters per API key or per client address. The requests of one turn of the event
 * loop that count against the same counter share one command (`INCRBY` by how many they are), and
 * each gets the count it would have got from its own `INCR`, so the limit is as exact as one
 * request at a time and a burst costs one round trip per counter, not one per request. While Redis
 * is down the counters fall back to this process's memory, so a Redis outage neither blocks reads
 * nor lifts the limit.
 */
export function rateLimit(options: RateLimitOptions) {
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

  /** Counters to move at the end of this turn: how many requests wait on each. */
  const waiting = new Map<string, ((count: number | undefined) => void)[]>();

  function sendWaiting() {
    for (const [redisKey, waiters] of waiting) {
      waiting.delete(redisKey);
      const settle = (total: unknown) => {
        for (const [index, resolve] of waiters.entries()) {
          resolve(typeof total === 'number' ? total - waiters.length + index + 1 : undefined);
        }
      };
      options.redis.eval(COUNT, 1, redisKey, waiters.length, windowMs).then(settle, () => settle(undefined));
    }
  }

  function countInRedis(key: string, window: number): Promise<number | undefined> {
    if (options.redis.status !== 'ready') return Promise.resolve(undefined);
    const redisKey = `${options.prefix}:ratelimit:${key}:${window}`;
    return new Promise((resolve) => {
      if (waiting.size === 0) setImmediate(sendWaiting);
      const waiters = waiting.get(redisKey);
      if (waiters) waiters.push(resolve);
      else waiting.set(redisKey, [resolve]);
    });
  }

  const per = options.per ?? 'key';
  const bucket = options.bucket ?? 'api';
  return async (req: Request, _res: Response, next: NextFunction) => {
    const who =
      per === 'address' ? `addr:${req.socket.remoteAddress ?? 'unknown'}` : (req.principal?.keyId ?? 'anonymous');
    const key = bucket === 'api' ? who : `${bucket}:${who}`;
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    const count = (await countInRedis(key, window)) ?? countLocally(key, window);
    if (count > options.limit) {
      throw new RateLimitedError(Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000)), per);
    }
    next();
  };
}
