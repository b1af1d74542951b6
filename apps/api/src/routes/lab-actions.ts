import { getLab } from '@glassdome/db';
import {
  cancelLab as cancel,
  LabTransitionRefused,
  loadLab,
  requestLabDestroy,
  retryLab as retry,
} from '@glassdome/lab-run';
import { type Request, type Response, Router } from 'express';
import { scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError } from '../errors';
import { labCancelQuery } from '../exercise-schemas';
import { parseInput } from '../http/validate';
import { idParams } from '../schemas';
import { relayNow, requireRedis } from '../services/enqueue';

async function existingLab(ctx: ApiContext, req: Request) {
  const { id } = parseInput(idParams, req.params, 'params');
  const lab = await getLab(ctx.db, id, scopeOf(req));
  if (!lab) throw new NotFoundError('lab');
  return lab;
}

/**
 * DELETE /labs/:id: a destroyed lab answers 202 with nothing to do; otherwise every call starts a fresh
 * tear-down job (tear-down is idempotent), so asking again after a tear-down failed for good works.
 */
async function destroyLab(ctx: ApiContext, req: Request, res: Response) {
  const lab = await existingLab(ctx, req);
  if (lab.status === 'destroyed') {
    res.status(202).json({ id: lab.id, status: 'destroyed' });
    return;
  }
  requireRedis(ctx.producer);
  const jobId = await requestLabDestroy(ctx.db, lab.id, 'through the API', req.id);
  if (!jobId) throw new ConflictError('the lab changed state meanwhile; try again');
  await relayNow(ctx, req);
  res.status(202).json({ id: lab.id, status: 'destroying', jobId });
}

/**
 * POST /labs/:id/cancel: what is in flight stops at its next step (the installer watches the lab's
 * status) and every VM not yet ready is `cancelled` at once, never left `deploying`. With
 * `?destroyVms=true` every VM of the lab is then deleted (the lab stays `cancelled`); otherwise they
 * are kept for inspection until the lab is deleted.
 */
async function cancelLab(ctx: ApiContext, req: Request, res: Response) {
  const { destroyVms } = parseInput(labCancelQuery, req.query, 'query');
  const lab = await existingLab(ctx, req);
  if (destroyVms) requireRedis(ctx.producer);
  const jobId = await cancel(ctx.db, lab.id, { destroyVms: destroyVms ?? false, requestId: req.id }).catch(
    refusedAsConflict,
  );
  if (jobId) await relayNow(ctx, req);
  res
    .status(202)
    .json({ id: lab.id, status: 'cancelled', vms: destroyVms ? 'destroying' : 'kept', ...(jobId ? { jobId } : {}) });
}

/**
 * POST /labs/:id/retry: puts the lab back to deploying and its failed VMs (with their unfinished
 * steps) back to queued / pending, with the next run of its flow, in one transaction: only what
 * failed (and what waited on it) runs again.
 */
async function retryLab(ctx: ApiContext, req: Request, res: Response) {
  const lab = (await loadLab(ctx.db, (await existingLab(ctx, req)).id))!;
  requireRedis(ctx.producer);
  const { requeued, run } = await retry(ctx.db, lab, req.id).catch(refusedAsConflict);
  await relayNow(ctx, req);
  res.status(202).json({ id: lab.id, status: 'deploying', requeuedVms: requeued, run });
}

function refusedAsConflict(error: unknown): never {
  if (error instanceof LabTransitionRefused) throw new ConflictError(error.message);
  throw error;
}

export function labActionRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.delete('/labs/:id', (req, res) => destroyLab(ctx, req, res));
  router.post('/labs/:id/cancel', (req, res) => cancelLab(ctx, req, res));
  router.post('/labs/:id/retry', (req, res) => retryLab(ctx, req, res));
  return router;
}
