import { pingDb } from '@glassdome/db';
import { Router } from 'express';
import type { ApiContext } from '../context';

const READY_TIMEOUT_MS = 2_000;

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref()),
  ]);
}

async function reachable(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await within(check(), READY_TIMEOUT_MS);
    return true;
  } catch {
    return false;
  }
}

/** /healthz: the process answers. /readyz: it can do work (Redis and Postgres both reachable). */
export function healthRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [redis, postgres] = await Promise.all([
      reachable(() => ctx.producer.connection.ping()),
      reachable(() => pingDb(ctx.db)),
    ]);
    const ready = redis && postgres;
    if (!ready) res.setHeader('Retry-After', '5');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', redis, postgres });
  });
  return router;
}
