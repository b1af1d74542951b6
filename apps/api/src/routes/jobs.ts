import { findOutboxJobIntent, getLab, getVm } from '@glassdome/db';
import { JOBS, type Producer, parseIntent } from '@glassdome/queue';
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

/** A job as the API shows it. */
type ShownJob = Awaited<ReturnType<typeof presentJob>> | NonNullable<Awaited<ReturnType<typeof jobInOutbox>>>;

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

/** The job `id` in whichever queue holds it; a Redis that cannot be asked is a 503. */
async function jobInQueues(producer: Producer, id: string) {
  for (const [name, queue] of Object.entries(producer.queues)) {
    const job = await queue.getJob(id).catch(() => {
      throw new ServiceUnavailableError('Redis');
    });
    if (job) return presentJob(job, name);
  }
  return undefined;
}

/**
 * The job `id` while its intent waits in the outbox (committed, not yet relayed to BullMQ), in state
 * `outbox`. The row is checked like the relay checks it: one that is not a valid job intent is not shown.
 */
async function jobInOutbox(ctx: ApiContext, id: string) {
  const row = await findOutboxJobIntent(ctx.db, id);
  if (!row) return undefined;
  let intent: ReturnType<typeof parseIntent>;
  try {
    intent = parseIntent(row.intent);
  } catch {
    return undefined;
  }
  if (intent.kind !== 'job' || intent.jobId !== id) return undefined;
  return {
    id,
    name: intent.name,
    queue: JOBS[intent.name].queue,
    state: 'outbox' as const,
    attemptsMade: 0,
    createdAt: row.createdAt.getTime(),
    data: idsOnly(intent.payload),
  };
}

/**
 * Whether the reader may see a job: admins see every job; others only jobs about a lab or VM in
 * their scope (a job about neither, such as a grant, is an admin's business).
 */
async function jobInScope(ctx: ApiContext, req: Request, job: ShownJob): Promise<boolean> {
  const scope = scopeOf(req);
  if (scope.kind === 'all') return true;
  const refs = job.data;
  if (typeof refs.vmId === 'string') return Boolean(await getVm(ctx.db, refs.vmId, scope));
  if (typeof refs.labId === 'string') return Boolean(await getLab(ctx.db, refs.labId, scope));
  return false;
}

export function jobRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/jobs/:id', async (req, res) => {
    const { id } = parseInput(jobIdParams, req.params, 'params');
    requireRedis(ctx.producer);
    // Not in a queue: perhaps still in the outbox; and if not there either, it may have been relayed
    // between the two looks, so the queues are asked once more.
    const job =
      (await jobInQueues(ctx.producer, id)) ?? (await jobInOutbox(ctx, id)) ?? (await jobInQueues(ctx.producer, id));
    if (!job || !(await jobInScope(ctx, req, job))) throw new NotFoundError('job');
    res.json(job);
  });
  return router;
}
