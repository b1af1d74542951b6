import { getLab, getVm } from '@glassdome/db';
import type { Producer } from '@glassdome/queue';
import { type Request, Router } from 'express';
import { scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { NotFoundError, ServiceUnavailableError } from '../errors';
import { parseInput } from '../http/validate';
import { jobIdParams } from '../schemas';
import { requireRedis } from '../services/enqueue';

type Job = NonNullable<Awaited<ReturnType<Producer['queues']['vm']['getJob']>>>;

/**
 * Job data is shown as references only (`vmId`, `labId`, `taskId`, …): payloads are meant to
 * carry nothing else, and this keeps it so even if one ever did.
 */
export function idsOnly(data: unknown): Record<string, string | number> {
  if (!data || typeof data !== 'object') return {};
  return Object.fromEntries(
    Object.entries(data).filter(
      ([key, value]) => /(^id|Id)$/.test(key) && (typeof value === 'string' || typeof value === 'number'),
    ),
  );
}

async function presentJob(job: Job, queue: string) {
  return {
    id: job.id,
    name: job.name,
    queue,
    state: await job.getState(),
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason || undefined,
    createdAt: job.timestamp,
    processedAt: job.processedOn,
    finishedAt: job.finishedOn,
    data: idsOnly(job.data),
  };
}

/**
 * Whether the reader may see a job: admins see every job; others only jobs about a lab or VM in
 * their scope (a job about neither, such as a grant, is an admin's business).
 */
async function jobInScope(ctx: ApiContext, req: Request, job: Job): Promise<boolean> {
  const scope = scopeOf(req);
  if (scope.kind === 'all') return true;
  const refs = idsOnly(job.data);
  if (typeof refs.vmId === 'string') return Boolean(await getVm(ctx.db, refs.vmId, scope));
  if (typeof refs.labId === 'string') return Boolean(await getLab(ctx.db, refs.labId, scope));
  return false;
}

export function jobRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/jobs/:id', async (req, res) => {
    const { id } = parseInput(jobIdParams, req.params, 'params');
    requireRedis(ctx.producer);
    for (const [name, queue] of Object.entries(ctx.producer.queues)) {
      const job = await queue.getJob(id).catch(() => {
        throw new ServiceUnavailableError('Redis');
      });
      if (job) {
        if (!(await jobInScope(ctx, req, job))) break;
        res.json(await presentJob(job, name));
        return;
      }
    }
    throw new NotFoundError('job');
  });
  return router;
}
