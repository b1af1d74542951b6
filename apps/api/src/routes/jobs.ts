import type { Producer } from '@glassdome/queue';
import { Router } from 'express';
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
        res.json(await presentJob(job, name));
        return;
      }
    }
    throw new NotFoundError('job');
  });
  return router;
}
