/**
 * Warm pools: `size` copies of a catalog template or saved spec (with parameters) kept deployed and
 * ready in the pool's project, so a class need not wait for deploys. `POST /pools/:id/claim` hands one
 * to a project at once (its name, TTL and the trainees' keys) and the pool deploys a replacement in
 * the background; schedules (`/pools/:id/schedules`, BullMQ job schedulers) resize a pool at a given
 * time, e.g. to fill it for a class at 08:30 every Monday. Sizing a pool counts against the project's
 * quotas as deploying those copies would.
 */
import { randomBytes } from 'node:crypto';
import {
  getLabOperation,
  getPool,
  insertPool,
  inTransaction,
  listPoolMembers,
  listPools,
  listVmsOfLab,
  lockPool,
  recentClaims,
  setClaimLatency,
  setPoolSize,
  setPoolStatus,
  toStoredJson,
} from '@glassdome/db';
import { durationSeconds, parseStoredLabSource } from '@glassdome/lab';
import {
  claimFromPool,
  deletePoolWithCopies,
  type LabSourceRef,
  labVmInstances,
  requestPoolFill,
  resolveLabSource,
} from '@glassdome/lab-run';
import { jobOptions, parsePayload } from '@glassdome/queue';
import { type Request, Router } from 'express';
import { scopeOf } from '../auth/middleware';
import { projectOfRequest } from '../auth/projects';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError } from '../errors';
import {
  poolClaimBody,
  poolCreateBody,
  poolParams,
  poolPatchBody,
  poolScheduleBody,
  poolScheduleParams,
  projectQuery,
} from '../exercise-schemas';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { emptyQuery } from '../schemas';
import { relayNow, requireRedis } from '../services/enqueue';
import { invalidSpec, projectQuotas, refusalAsHttp, specQuotas } from '../services/exercises';
import { checkQuotas } from '../services/quotas';

/** How long a claim waits for the claimer's keys to be on the guests before it answers anyway. */
const CLAIM_KEYS_WAIT_MS = 15_000;

type PoolRow = NonNullable<Awaited<ReturnType<typeof getPool>>>;

async function visiblePool(ctx: ApiContext, req: Request): Promise<PoolRow> {
  const { id } = parseInput(poolParams, { id: req.params.id }, 'params');
  const pool = await getPool(ctx.db, id, scopeOf(req));
  if (!pool) throw new NotFoundError('pool');
  return pool;
}

/** The spec a pool's copies are deployed from, checked now (a pool that cannot deploy is refused). */
async function resolvePoolSource(ctx: ApiContext, source: LabSourceRef, project: string) {
  const resolved = await resolveLabSource(ctx.db, source, {
    scope: { kind: 'project', project },
    quotas: specQuotas(await projectQuotas(ctx, project)),
  });
  if (!resolved.ok) invalidSpec(resolved.issues, 'the pool cannot deploy this lab');
  return resolved;
}

/** `copies` more pool copies of `spec` must fit the project's quotas. */
async function checkPoolQuotas(
  ctx: ApiContext,
  trx: Parameters<typeof checkQuotas>[0],
  project: string,
  spec: Parameters<typeof labVmInstances>[0],
  copies: number,
) {
  if (copies <= 0) return;
  const instances = labVmInstances(spec);
  await checkQuotas(trx, project, ctx.quotas, {
    vms: instances.length * copies,
    copies: spec.copies * copies,
    vcpus: instances.reduce((sum, { vm }) => sum + vm.cpus, 0) * copies,
    memoryMiB: instances.reduce((sum, { vm }) => sum + vm.memoryMiB, 0) * copies,
  });
}

interface ScheduleView {
  id: string;
  kind: 'cron' | 'once';
  size: number;
  cron?: string;
  tz?: string;
  next?: string | null;
}

const schedulePrefix = (poolId: string) => `pool-prewarm.${poolId}.`;

async function poolSchedules(ctx: ApiContext, poolId: string): Promise<ScheduleView[]> {
  if (ctx.producer.connection.status !== 'ready') return [];
  const queue = ctx.producer.queues.lab;
  const prefix = schedulePrefix(poolId);
  const schedulers = (await queue.getJobSchedulers(0, -1, true)).filter((s) => s.key.startsWith(prefix));
  const delayed = (await queue.getDelayed()).filter((job) => job.id?.startsWith(prefix) && !job.repeatJobKey);
  return [
    ...schedulers.map((s) => ({
      id: s.key,
      kind: 'cron' as const,
      size: Number((s.template?.data as { size?: number } | undefined)?.size ?? 0),
      ...(s.pattern ? { cron: s.pattern } : {}),
      ...(s.tz ? { tz: s.tz } : {}),
      next: s.next ? new Date(s.next).toISOString() : null,
    })),
    ...delayed.map((job) => ({
      id: job.id!,
      kind: 'once' as const,
      size: Number((job.data as { size?: number }).size ?? 0),
      next: new Date(job.timestamp + (job.delay ?? 0)).toISOString(),
    })),
  ];
}

async function presentPool(ctx: ApiContext, pool: PoolRow, withDetail: boolean) {
  const members = await listPoolMembers(ctx.db, pool.id);
  const byStatus: Record<string, number> = {};
  for (const member of members) byStatus[member.status] = (byStatus[member.status] ?? 0) + 1;
  // Claimable: ready, its initial snapshot taken, nothing else running on it.
  const claimable = members.filter((m) => m.status === 'ready' && m.first_ready_at && !m.busy).length;
  const claims = await recentClaims(ctx.db, pool.id, 50);
  const latencies = claims.flatMap((claim) => (claim.claim_ms === null ? [] : [claim.claim_ms])).sort((a, b) => a - b);
  return {
    id: pool.id,
    name: pool.name,
    project: pool.project,
    source: pool.source,
    size: pool.size,
    status: pool.status,
    copies: { total: members.length, ready: claimable, byStatus },
    claimLatencyMs: {
      samples: latencies.length,
      p50: latencies[Math.floor(latencies.length / 2)] ?? null,
      max: latencies.at(-1) ?? null,
      last: claims[0]?.claim_ms ?? null,
    },
    createdAt: pool.created_at,
    updatedAt: pool.updated_at,
    ...(withDetail
      ? {
          members: members.map((m) => ({ labId: m.id, name: m.name, status: m.status, readyAt: m.first_ready_at })),
          recentClaims: claims.map((c) => ({
            labId: c.id,
            name: c.name,
            claimedAt: c.claimed_at,
            claimMs: c.claim_ms,
          })),
          schedules: await poolSchedules(ctx, pool.id),
        }
      : {}),
  };
}

/** Waits (briefly) for the claim's key hand-over; its outcome is part of the answer. */
async function waitForKeys(ctx: ApiContext, operationId: string) {
  const deadline = Date.now() + CLAIM_KEYS_WAIT_MS;
  for (;;) {
    const row = await getLabOperation(ctx.db, operationId);
    if (!row || row.status === 'done' || row.status === 'failed') return row;
    if (Date.now() >= deadline) return row;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

export function poolRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.get('/pools', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const pools = await listPools(ctx.db, scopeOf(req));
    res.json({ items: await Promise.all(pools.map((pool) => presentPool(ctx, pool, false))) });
  });

  router.post('/pools', accept(JSON_TYPES), async (req, res) => {
    const query = parseInput(projectQuery, req.query, 'query');
    const project = await projectOfRequest(req, query.project);
    const body = parseInput(poolCreateBody, req.body ?? {}, 'body');
    const source: LabSourceRef = body.template
      ? { template: body.template, ...(body.parameters ? { parameters: body.parameters } : {}) }
      : {
          spec: body.spec!,
          ...(body.version ? { version: body.version } : {}),
          ...(body.parameters ? { parameters: body.parameters } : {}),
        };
    const resolved = await resolvePoolSource(ctx, source, project);
    requireRedis(ctx.producer);
    const id = await inTransaction(ctx.db, async (trx) => {
      await checkPoolQuotas(ctx, trx, project, resolved.spec, body.size);
      const poolId = await insertPool(trx, {
        name: body.name,
        project,
        source: toStoredJson(source),
        size: body.size,
        createdBy: req.principal!.keyId,
      });
      await requestPoolFill(trx, poolId);
      return poolId;
    }).catch((error: { code?: string }) => {
      if (error.code === '23505') throw new ConflictError(`a pool named ${body.name} already exists`);
      throw error;
    });
    await relayNow(ctx, req);
    const pool = (await getPool(ctx.db, id, { kind: 'all' }))!;
    res
      .status(201)
      .location(`/api/v1/pools/${id}`)
      .json(await presentPool(ctx, pool, true));
  });

  router.get('/pools/:id', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    res.json(await presentPool(ctx, await visiblePool(ctx, req), true));
  });

  router.patch('/pools/:id', accept(JSON_TYPES), async (req, res) => {
    const pool = await visiblePool(ctx, req);
    const body = parseInput(poolPatchBody, req.body ?? {}, 'body');
    requireRedis(ctx.producer);
    const grows = body.size !== undefined && body.size > pool.size;
    const resolved = grows ? await resolvePoolSource(ctx, parseStoredLabSource(pool.source), pool.project) : undefined;
    await inTransaction(ctx.db, async (trx) => {
      const locked = await lockPool(trx, pool.id);
      if (!locked) throw new NotFoundError('pool');
      if (resolved && body.size !== undefined) {
        await checkPoolQuotas(ctx, trx, pool.project, resolved.spec, body.size - locked.size);
      }
      if (body.size !== undefined) await setPoolSize(trx, pool.id, body.size);
      if (body.status !== undefined) await setPoolStatus(trx, pool.id, body.status);
      await requestPoolFill(trx, pool.id);
    });
    await relayNow(ctx, req);
    res.json(await presentPool(ctx, (await getPool(ctx.db, pool.id, { kind: 'all' }))!, true));
  });

  router.delete('/pools/:id', async (req, res) => {
    const pool = await visiblePool(ctx, req);
    requireRedis(ctx.producer);
    for (const schedule of await poolSchedules(ctx, pool.id)) await removeSchedule(ctx, schedule);
    const tornDown = await deletePoolWithCopies(ctx.db, pool.id).catch(refusalAsHttp);
    await relayNow(ctx, req);
    res.json({ id: pool.id, name: pool.name, deleted: true, copiesTornDown: tornDown.length });
  });

  router.post('/pools/:id/claim', accept(JSON_TYPES), async (req, res) => {
    const started = performance.now();
    const pool = await visiblePool(ctx, req);
    const body = parseInput(poolClaimBody, req.body ?? {}, 'body');
    const project = await projectOfRequest(req, body.project);
    requireRedis(ctx.producer);
    const claimed = await claimFromPool(ctx.db, {
      poolId: pool.id,
      project,
      ...(body.name ? { name: body.name } : {}),
      ...(body.ttl ? { ttlSeconds: durationSeconds(body.ttl)! } : {}),
      createdBy: req.principal!.keyId,
      ...(body.traineeKeys ? { traineeKeys: body.traineeKeys } : {}),
      ...(body.copyKeys ? { copyKeys: body.copyKeys } : {}),
      check: async (trx, lab) => {
        // Into another project, the copy itself is new there. Into the pool's own project it counts
        // there already, but the replacement the pool then deploys into that project is new: either
        // way the project takes one more copy of this size (else claims would grow it past its quota).
        const vms = await listVmsOfLab(trx, lab.id);
        const sizes = vms.map((vm) => vm.spec as { cpus?: number; memoryMiB?: number });
        await checkQuotas(trx, project, ctx.quotas, {
          vms: vms.length,
          copies: lab.copies,
          vcpus: sizes.reduce((sum, spec) => sum + (spec.cpus ?? 0), 0),
          memoryMiB: sizes.reduce((sum, spec) => sum + (spec.memoryMiB ?? 0), 0),
          ttlSeconds: lab.ttlSeconds,
        });
      },
    }).catch((error: { code?: string }) => {
      if (error.code === '23505') throw new ConflictError(`an active lab named ${body.name} already exists`);
      return refusalAsHttp(error);
    });
    await relayNow(ctx, req);
    const keys = claimed.keys ? await waitForKeys(ctx, claimed.keys.operationId) : undefined;
    const claimMs = Math.round(performance.now() - started);
    await setClaimLatency(ctx.db, claimed.labId, claimMs);
    req.log.info({ poolId: pool.id, labId: claimed.labId, claimMs }, 'pool copy claimed');
    res.json({
      labId: claimed.labId,
      name: claimed.name,
      project,
      expiresAt: claimed.expiresAt,
      claimMs,
      keys: keys ? { operationId: keys.id, status: keys.status, vms: keys.done, error: keys.error } : null,
      links: { lab: `/api/v1/labs/${claimed.labId}`, roster: `/api/v1/labs/${claimed.labId}/roster` },
    });
  });

  router.get('/pools/:id/schedules', async (req, res) => {
    const pool = await visiblePool(ctx, req);
    requireRedis(ctx.producer);
    res.json({ items: await poolSchedules(ctx, pool.id) });
  });

  router.post('/pools/:id/schedules', accept(JSON_TYPES), async (req, res) => {
    const pool = await visiblePool(ctx, req);
    const body = parseInput(poolScheduleBody, req.body ?? {}, 'body');
    requireRedis(ctx.producer);
    // The size it sets must fit the project's quotas as a resize to it now would (the job itself,
    // at its time, sets the size without asking again).
    if (body.size > pool.size) {
      const resolved = await resolvePoolSource(ctx, parseStoredLabSource(pool.source), pool.project);
      await inTransaction(ctx.db, (trx) =>
        checkPoolQuotas(ctx, trx, pool.project, resolved.spec, body.size - pool.size),
      );
    }
    const data = parsePayload('pool.prewarm', { poolId: pool.id, size: body.size });
    const id = `${schedulePrefix(pool.id)}${randomBytes(4).toString('hex')}`;
    const queue = ctx.producer.queues.lab;
    if (body.cron) {
      await queue.upsertJobScheduler(
        id,
        { pattern: body.cron, ...(body.tz ? { tz: body.tz } : {}) },
        { name: 'pool.prewarm', data, opts: jobOptions('pool.prewarm') },
      );
    } else {
      const delay = Math.max(0, Date.parse(body.at!) - Date.now());
      await queue.add('pool.prewarm', data, jobOptions('pool.prewarm', { jobId: id, delay }));
    }
    const schedule = (await poolSchedules(ctx, pool.id)).find((s) => s.id === id);
    res.status(201).json(schedule ?? { id, size: body.size });
  });

  router.delete('/pools/:id/schedules/:scheduleId', async (req, res) => {
    const { scheduleId } = parseInput(poolScheduleParams, req.params, 'params');
    const pool = await visiblePool(ctx, req);
    requireRedis(ctx.producer);
    const schedule = (await poolSchedules(ctx, pool.id)).find((s) => s.id === scheduleId);
    if (!schedule) throw new NotFoundError('schedule');
    await removeSchedule(ctx, schedule);
    res.json({ id: scheduleId, deleted: true });
  });

  return router;
}

async function removeSchedule(ctx: ApiContext, schedule: ScheduleView): Promise<void> {
  const queue = ctx.producer.queues.lab;
  if (schedule.kind === 'cron') await queue.removeJobScheduler(schedule.id);
  else await (await queue.getJob(schedule.id))?.remove();
}
