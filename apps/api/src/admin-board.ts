import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Producer } from '@glassdome/queue';
import { type NextFunction, type Request, type Response, Router } from 'express';
import { ApiError } from './errors';
import { idsOnly } from './routes/jobs';

/** Reads the board never needs that could show more than ids: a job's log lines are free text. */
const HIDDEN_READS = [/\/api\/queues\/[^/]+\/[^/]+\/logs$/];

/**
 * Every request that could change a queue is refused before Bull Board sees it: only GET and HEAD
 * pass (its add, retry, promote, clean, remove, pause, empty and obliterate are all PUT, POST or
 * PATCH). Read-only mode on each queue is the second wall; this one does not depend on which routes a
 * given Bull Board version has.
 */
function readsOnly(req: Request, _res: Response, next: NextFunction) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw new ApiError(
      405,
      'read_only',
      'Bull Board is read-only here; act through the API, which checks what you ask',
    );
  }
  if (HIDDEN_READS.some((pattern) => pattern.test(req.path))) throw new ApiError(404, 'not_found', 'not shown');
  next();
}

/**
 * Bull Board over every queue, read-only. Job data is shown as ids only, and return values and
 * progress not at all, so the board cannot display a secret even if one slipped into a payload.
 * Mounted behind admin auth.
 */
export function adminBoard(producer: Producer, basePath: string): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  const queues = Object.values(producer.queues).map((queue) => {
    const adapter = new BullMQAdapter(queue, { readOnlyMode: true, allowRetries: false });
    adapter.setFormatter('data', idsOnly);
    adapter.setFormatter('returnValue', () => '(hidden)');
    adapter.setFormatter('progress', () => '(hidden)');
    return adapter;
  });
  createBullBoard({ queues, serverAdapter });
  const router = Router();
  router.use(readsOnly);
  router.use(serverAdapter.getRouter());
  return router;
}
