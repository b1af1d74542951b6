/**
 * What the exercise routes share: a lab the caller may see (404 otherwise), refusals from lab-run as
 * HTTP errors, the quotas a spec is checked against, how an operation is shown, and deploying a lab
 * from a resolved source.
 */

import type { JsonValue } from '@glassdome/db';
import { appendEvent, getLab, getProject, inTransaction, type listLabOperations, planLabVmSteps } from '@glassdome/db';
import type { LabSpec, SpecIssue, Quotas as SpecQuotas, TraineeAccess } from '@glassdome/lab';
import { labVmInstances, OperationRefused, type RequestedOperation, recordLabDeploy } from '@glassdome/lab-run';
import type { Request } from 'express';
import { scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { parseInput, specIssuesToFieldIssues } from '../http/validate';
import { idParams } from '../schemas';
import { relayNow, requireRedis } from './enqueue';
import { checkQuotas, effectiveQuotas, type Quotas } from './quotas';

/** The lab named in the path, if the caller may see it. */
export async function visibleLab(ctx: ApiContext, req: Request) {
  // Only the lab's id: the route's other path parameters are checked by the route.
  const { id } = parseInput(idParams, { id: req.params.id }, 'params');
  const lab = await getLab(ctx.db, id, scopeOf(req));
  if (!lab) throw new NotFoundError('lab');
  return lab;
}

/** lab-run's refusals as the API's answers: nothing to act on is a 404, not now a 409. */
export function refusalAsHttp(error: unknown): never {
  if (error instanceof OperationRefused) {
    if (error.code === 'not_found') throw new ApiNotFound(error.message);
    throw new ConflictError(error.message);
  }
  throw error;
}

class ApiNotFound extends NotFoundError {
  constructor(message: string) {
    super('it');
    this.message = message;
  }
}

/** The quotas in force for a project (its overrides over the configured defaults). */
export async function projectQuotas(ctx: ApiContext, project: string): Promise<Quotas> {
  const row = await getProject(ctx.db, project);
  return row ? effectiveQuotas(ctx.quotas, row.quotas) : ctx.quotas;
}

/** The same quotas as a spec is parsed against: copies, TTL and totals come from them, not from code. */
export function specQuotas(quotas: Quotas): SpecQuotas {
  return {
    maxVms: quotas.maxVms,
    maxCpus: quotas.maxVcpus,
    maxMemoryMiB: quotas.maxMemoryMiB,
    maxCopies: quotas.maxCopies,
    maxTtlSeconds: quotas.maxLabTtlSeconds,
  };
}

export function invalidSpec(issues: readonly SpecIssue[], message = 'the lab spec is invalid'): never {
  throw new ValidationError(specIssuesToFieldIssues(issues), message);
}

/** 202 with the operation's ids, after its intent is relayed. */
export async function answerOperation(
  ctx: ApiContext,
  req: Request,
  labId: string,
  kind: string,
  requested: RequestedOperation,
) {
  await relayNow(ctx, req);
  return {
    labId,
    operationId: requested.operationId,
    jobId: requested.jobId,
    kind,
    status: 'queued',
    vms: requested.total,
    links: { operation: `/api/v1/labs/${labId}/operations/${requested.operationId}` },
  };
}

type OperationRow = Awaited<ReturnType<typeof listLabOperations>>[number];

export function presentOperation(row: OperationRow) {
  return {
    id: row.id,
    labId: row.lab_id,
    kind: row.kind,
    target: row.target,
    snapshot: row.snapshot,
    status: row.status,
    progress: { done: row.done, total: row.total },
    error: row.error,
    requestedBy: row.requested_by,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** What a deploy by reference adds to the spec: trainee keys per copy and where it came from. */
export interface DeployExtras {
  trainee?: TraineeAccess;
  source?: JsonValue;
}

/**
 * Records a lab in one transaction after the project's quotas allowed it (with its `lab.requested`
 * event, so the timeline starts there), then sends its flow's intent to BullMQ at once — that row
 * only, no relay pass: the one path for every deploy (a spec, a template with parameters, a saved spec).
 */
export async function deployResolvedLab(
  ctx: ApiContext,
  req: Request,
  spec: LabSpec,
  project: string,
  extras: DeployExtras = {},
): Promise<string> {
  requireRedis(ctx.producer);
  const instances = labVmInstances(spec);
  const recorded = await inTransaction(ctx.db, async (trx) => {
    await checkQuotas(trx, project, ctx.quotas, {
      vms: instances.length,
      copies: spec.copies,
      vcpus: instances.reduce((sum, { vm }) => sum + vm.cpus, 0),
      memoryMiB: instances.reduce((sum, { vm }) => sum + vm.memoryMiB, 0),
      ttlSeconds: spec.ttlSeconds,
    });
    const lab = await recordLabDeploy(trx, {
      spec,
      platformId: ctx.platformId,
      node: ctx.node,
      project,
      createdBy: req.principal!.keyId,
      requestId: req.id,
      expiresAt: new Date(Date.now() + spec.ttlSeconds * 1000),
      ...(extras.trainee ? { trainee: extras.trainee } : {}),
      ...(extras.source !== undefined ? { source: extras.source } : {}),
      // The 540 step rows of a 60-VM lab are written after the commit, once its intent is sent.
      planOnVms: true,
    });
    await appendEvent(trx, {
      labId: lab.labId,
      kind: 'lab.requested',
      message: `deploy of lab ${spec.name} requested`,
    });
    return lab;
  }).catch((error: { code?: string }) => {
    if (error.code === '23505') throw new ConflictError(`an active lab named ${spec.name} already exists`);
    throw error;
  });
  await relayNow(ctx, req, [recorded.outbox]);
  const { labId } = recorded;
  // The VMs' step rows, from the plans on their rows (readers show the same steps before and after);
  // the lab's first task (its networks) runs meanwhile and needs none. If this fails or the process
  // dies first, each VM's provision task writes its VM's rows (`planVmSteps`).
  await planLabVmSteps(ctx.db, labId).catch((error: unknown) => {
    req.log.warn({ err: error, labId }, 'step rows not written; the provision tasks write them');
  });
  req.log.info({ labId, project, vms: instances.length }, 'lab deploy queued');
  return labId;
}

/** A lab's exercise fields as `GET /labs/:id` shows them. */
export function labExtrasView(lab: {
  first_ready_at: Date | null;
  testing: unknown;
  source: unknown;
  pool_id: string | null;
  claimed_at: Date | null;
}) {
  return {
    firstReadyAt: lab.first_ready_at,
    testing: lab.testing ?? null,
    source: lab.source ?? null,
    pool: lab.pool_id ? { poolId: lab.pool_id, claimedAt: lab.claimed_at } : null,
  };
}
