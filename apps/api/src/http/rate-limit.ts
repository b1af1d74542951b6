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
 * Fixed-window counters per API key or per client address. While Redis is down the counters fall
 * back to this process's memory, so a Redis outage neither blocks reads nor lifts the limit.
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

  async function countInRedis(key: string, window: number): Promise<number | undefined> {
    if (options.redis.status !== 'ready') return undefined;
    try {
      const redisKey = `${options.prefix}:ratelimit:${key}:${window}`;
      const replies = await options.redis.multi().incr(redisKey).pexpire(redisKey, windowMs).exec();
      const count = replies?.[0]?.[1];
      return typeof count === 'number' ? count : undefined;
    } catch {
      return undefined;
    }
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
