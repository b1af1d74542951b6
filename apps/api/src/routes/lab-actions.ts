import { advanceLabRun, appendEvent, getLab, requeueFailedVmsOfLab, setLabStatus } from '@glassdome/db';
import { startNextLabRun } from '@glassdome/runtime';
import { type Request, type Response, Router } from 'express';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError } from '../errors';
import { parseInput } from '../http/validate';
import { idParams } from '../schemas';
import { enqueueOrUndo, requireRedis } from '../services/enqueue';

/** Every state a lab can be torn down from: a deploying lab too (its in-flight tasks see the new status). */
const DESTROYABLE = ['queued', 'deploying', 'ready', 'degraded', 'failed', 'cancelled', 'destroying'];

async function existingLab(ctx: ApiContext, req: Request) {
  const { id } = parseInput(idParams, req.params, 'params');
  const lab = await getLab(ctx.db, id);
  if (!lab) throw new NotFoundError('lab');
  return lab;
}

/** DELETE /labs/:id: idempotent; a second call re-enqueues the same job id, which BullMQ ignores. */
async function destroyLab(ctx: ApiContext, req: Request, res: Response) {
  const lab = await existingLab(ctx, req);
  const jobId = `lab-destroy.${lab.id}`;
  if (lab.status === 'destroyed') {
    res.status(202).json({ id: lab.id, status: 'destroyed', jobId });
    return;
  }
  requireRedis(ctx.producer);
  if (!(await setLabStatus(ctx.db, lab.id, 'destroying', { onlyFrom: DESTROYABLE }))) {
    throw new ConflictError('the lab changed state meanwhile; try again');
  }
  await enqueueOrUndo(
    req,
    () => ctx.producer.enqueue('lab.destroy', { labId: lab.id, requestId: req.id }, { jobId }),
    () => setLabStatus(ctx.db, lab.id, lab.status, { onlyFrom: ['destroying'] }),
  );
  await appendEvent(ctx.db, { labId: lab.id, kind: 'lab.destroy-requested', message: 'tear-down requested' });
  res.status(202).json({ id: lab.id, status: 'destroying', jobId });
}

/** POST /labs/:id/cancel: the installer checks the lab's status before each task and stops. */
async function cancelLab(ctx: ApiContext, req: Request, res: Response) {
  const lab = await existingLab(ctx, req);
  if (!(await setLabStatus(ctx.db, lab.id, 'cancelled', { onlyFrom: ['queued', 'deploying'] }))) {
    throw new ConflictError(`a ${lab.status} lab cannot be cancelled`);
  }
  await appendEvent(ctx.db, { labId: lab.id, kind: 'lab.cancelled', message: 'cancelled through the API' });
  res.status(202).json({ id: lab.id, status: 'cancelled' });
}

/**
 * POST /labs/:id/retry: puts the lab back to deploying and its failed VMs (with their unfinished
 * steps) back to queued / pending in one transaction, then starts the next run of its flow with the
 * tasks whose dependencies are all done: only what failed (and what waited on it) runs again.
 */
async function retryLab(ctx: ApiContext, req: Request, res: Response) {
  const lab = await existingLab(ctx, req);
  requireRedis(ctx.producer);
  const { requeued, run, doneTasks } = await ctx.db.transaction().execute(async (trx) => {
    if (!(await setLabStatus(trx, lab.id, 'deploying', { error: null, onlyFrom: ['failed', 'degraded'] }))) {
      throw new ConflictError(`a ${lab.status} lab cannot be retried; only failed or degraded labs can`);
    }
    const count = await requeueFailedVmsOfLab(trx, lab.id);
    const next = await advanceLabRun(trx, lab.id);
    await appendEvent(trx, {
      labId: lab.id,
      kind: 'lab.retry-requested',
      message: `retry requested for ${count} failed VM(s) (run ${next.run})`,
    });
    return { requeued: count, ...next };
  });
  await enqueueOrUndo(
    req,
    () => startNextLabRun(ctx.producer, lab, { run, doneTasks }, req.id),
    () => setLabStatus(ctx.db, lab.id, lab.status, { error: lab.error, onlyFrom: ['deploying'] }),
  );
  res.status(202).json({ id: lab.id, status: 'deploying', requeuedVms: requeued, run });
}

export function labActionRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.delete('/labs/:id', (req, res) => destroyLab(ctx, req, res));
  router.post('/labs/:id/cancel', (req, res) => cancelLab(ctx, req, res));
  router.post('/labs/:id/retry', (req, res) => retryLab(ctx, req, res));
  return router;
}
