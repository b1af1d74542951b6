/**
 * Snapshots and reverts: named snapshots of a lab VM, a copy or the whole lab (RAM optional), listed
 * and deleted; reverts of any of those to a snapshot, and `reset` (a revert to the `initial` snapshot
 * taken when the lab was first ready). Each answers 202 with the operation it started; its progress is
 * at `GET /labs/:id/operations/:operationId` and in the lab's events. A trainee key may reset its own
 * copy (and nothing else); every other change needs an operator of the lab's project.
 */
import { getLabOperation, getVm, listLabOperations, listVmSnapshots, listVmsOfLab } from '@glassdome/db';
import { INITIAL_SNAPSHOT } from '@glassdome/lab';
import { type OperationTarget, requestRevert, requestSnapshot, requestSnapshotDelete } from '@glassdome/lab-run';
import { type Request, Router } from 'express';
import { scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { NotFoundError } from '../errors';
import {
  labResetBody,
  labRevertBody,
  labSnapshotBody,
  operationParams,
  snapshotParams,
  snapshotTargetQuery,
  vmRevertBody,
  vmSnapshotBody,
} from '../exercise-schemas';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { emptyQuery, idParams } from '../schemas';
import { requireRedis } from '../services/enqueue';
import { answerOperation, presentOperation, refusalAsHttp, visibleLab } from '../services/exercises';

function targetOf(body: { copy?: number | undefined; vmId?: string | undefined }): OperationTarget {
  if (body.vmId !== undefined) return { kind: 'vm', vmId: body.vmId };
  if (body.copy !== undefined) return { kind: 'copy', copy: body.copy };
  return { kind: 'lab' };
}

/**
 * A trainee acts on its own copy only: no target means its copy, and a target outside it does not
 * exist as far as it can tell.
 */
async function scopedTarget(ctx: ApiContext, req: Request, target: OperationTarget): Promise<OperationTarget> {
  const copy = req.principal?.labCopy?.copy;
  if (copy === undefined) return target;
  if (target.kind === 'lab') return { kind: 'copy', copy };
  if (target.kind === 'copy' && target.copy !== copy) throw new NotFoundError('copy');
  if (target.kind === 'vm' && !(await getVm(ctx.db, target.vmId, scopeOf(req)))) throw new NotFoundError('VM');
  return target;
}

type SnapshotRow = Awaited<ReturnType<typeof listVmSnapshots>>[number];

/** Snapshots grouped by name, each with its VMs, as the reader may see them. */
function groupSnapshots(rows: SnapshotRow[]) {
  const byName = new Map<string, SnapshotRow[]>();
  for (const row of rows) byName.set(row.name, [...(byName.get(row.name) ?? []), row]);
  return [...byName].map(([name, vms]) => {
    const statuses = new Set<string>(vms.map((vm) => vm.status));
    const status = ['creating', 'deleting', 'failed'].find((s) => statuses.has(s)) ?? 'ready';
    return {
      name,
      scope: vms[0]!.scope,
      withRam: vms.some((vm) => vm.with_ram),
      description: vms[0]!.description,
      status,
      automatic: name === INITIAL_SNAPSHOT || name.startsWith('gd-'),
      createdAt: vms[0]!.created_at,
      copies: [...new Set(vms.map((vm) => vm.copy))],
      vms: vms.map((vm) => ({ vmId: vm.vm_id, name: vm.vm_name, copy: vm.copy, status: vm.status, error: vm.error })),
    };
  });
}

async function visibleVmIds(ctx: ApiContext, req: Request, labId: string): Promise<string[] | undefined> {
  if (!req.principal?.labCopy) return undefined;
  return (await listVmsOfLab(ctx.db, labId, scopeOf(req))).map((vm) => vm.id);
}

/** A lab VM named in the path (a standalone VM has no lab to snapshot with). */
async function labVmOf(ctx: ApiContext, req: Request) {
  const { id } = parseInput(idParams, req.params, 'params');
  const vm = await getVm(ctx.db, id, scopeOf(req));
  if (!vm) throw new NotFoundError('VM');
  if (!vm.lab_id) throw new NotFoundError('lab of this VM (snapshots are taken of lab VMs)');
  return { vm, labId: vm.lab_id };
}

export function labSnapshotRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.post('/labs/:id/snapshots', accept(JSON_TYPES), async (req, res) => {
    const lab = await visibleLab(ctx, req);
    const body = parseInput(labSnapshotBody, req.body ?? {}, 'body');
    requireRedis(ctx.producer);
    const requested = await requestSnapshot(ctx.db, {
      labId: lab.id,
      target: targetOf(body),
      name: body.name,
      withRam: body.withRam ?? false,
      ...(body.description ? { description: body.description } : {}),
      requestedBy: req.principal!.keyId,
    }).catch(refusalAsHttp);
    res.status(202).json(await answerOperation(ctx, req, lab.id, 'snapshot', requested));
  });

  router.get('/labs/:id/snapshots', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const lab = await visibleLab(ctx, req);
    const vmIds = await visibleVmIds(ctx, req, lab.id);
    res.json({ items: groupSnapshots(await listVmSnapshots(ctx.db, lab.id, vmIds ? { vmIds } : {})) });
  });

  router.delete('/labs/:id/snapshots/:name', async (req, res) => {
    const { name } = parseInput(snapshotParams, req.params, 'params');
    const query = parseInput(snapshotTargetQuery, req.query, 'query');
    const lab = await visibleLab(ctx, req);
    requireRedis(ctx.producer);
    const requested = await requestSnapshotDelete(ctx.db, {
      labId: lab.id,
      target: targetOf(query),
      name,
      requestedBy: req.principal!.keyId,
    }).catch(refusalAsHttp);
    res.status(202).json(await answerOperation(ctx, req, lab.id, 'delete-snapshot', requested));
  });

  router.post('/labs/:id/revert', accept(JSON_TYPES), async (req, res) => {
    const lab = await visibleLab(ctx, req);
    const body = parseInput(labRevertBody, req.body ?? {}, 'body');
    requireRedis(ctx.producer);
    const requested = await requestRevert(ctx.db, {
      labId: lab.id,
      target: targetOf(body),
      name: body.snapshot,
      requestedBy: req.principal!.keyId,
    }).catch(refusalAsHttp);
    res.status(202).json(await answerOperation(ctx, req, lab.id, 'revert', requested));
  });

  router.post('/labs/:id/reset', accept(JSON_TYPES), async (req, res) => {
    const lab = await visibleLab(ctx, req);
    const body = parseInput(labResetBody, req.body ?? {}, 'body');
    const target = await scopedTarget(ctx, req, targetOf(body));
    requireRedis(ctx.producer);
    const requested = await requestRevert(ctx.db, {
      labId: lab.id,
      target,
      name: INITIAL_SNAPSHOT,
      requestedBy: req.principal!.keyId,
    }).catch(refusalAsHttp);
    res.status(202).json(await answerOperation(ctx, req, lab.id, 'revert', requested));
  });

  router.get('/labs/:id/operations', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const lab = await visibleLab(ctx, req);
    const rows = await listLabOperations(ctx.db, lab.id);
    const copy = req.principal?.labCopy?.copy;
    // A trainee sees what was done to its own copy (or to the whole lab).
    const visible =
      copy === undefined
        ? rows
        : rows.filter((row) => {
            const target = row.target as { kind?: string; copy?: number };
            return target.kind === 'lab' || target.copy === copy;
          });
    res.json({ items: visible.map(presentOperation) });
  });

  router.get('/labs/:id/operations/:operationId', async (req, res) => {
    const { operationId } = parseInput(operationParams, req.params, 'params');
    const lab = await visibleLab(ctx, req);
    const row = await getLabOperation(ctx.db, operationId);
    if (!row || row.lab_id !== lab.id) throw new NotFoundError('operation');
    res.json(presentOperation(row));
  });

  // The same for one lab VM, by its own id.
  router.post('/vms/:id/snapshots', accept(JSON_TYPES), async (req, res) => {
    const { vm, labId } = await labVmOf(ctx, req);
    const body = parseInput(vmSnapshotBody, req.body ?? {}, 'body');
    requireRedis(ctx.producer);
    const requested = await requestSnapshot(ctx.db, {
      labId,
      target: { kind: 'vm', vmId: vm.id },
      name: body.name,
      withRam: body.withRam ?? false,
      ...(body.description ? { description: body.description } : {}),
      requestedBy: req.principal!.keyId,
    }).catch(refusalAsHttp);
    res.status(202).json(await answerOperation(ctx, req, labId, 'snapshot', requested));
  });

  router.get('/vms/:id/snapshots', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const { vm, labId } = await labVmOf(ctx, req);
    res.json({ items: groupSnapshots(await listVmSnapshots(ctx.db, labId, { vmIds: [vm.id] })) });
  });

  router.post('/vms/:id/revert', accept(JSON_TYPES), async (req, res) => {
    const { vm, labId } = await labVmOf(ctx, req);
    const body = parseInput(vmRevertBody, req.body ?? {}, 'body');
    requireRedis(ctx.producer);
    const requested = await requestRevert(ctx.db, {
      labId,
      target: { kind: 'vm', vmId: vm.id },
      name: body.snapshot,
      requestedBy: req.principal!.keyId,
    }).catch(refusalAsHttp);
    res.status(202).json(await answerOperation(ctx, req, labId, 'revert', requested));
  });

  router.post('/vms/:id/reset', async (req, res) => {
    const { vm, labId } = await labVmOf(ctx, req);
    requireRedis(ctx.producer);
    const requested = await requestRevert(ctx.db, {
      labId,
      target: { kind: 'vm', vmId: vm.id },
      name: INITIAL_SNAPSHOT,
      requestedBy: req.principal!.keyId,
    }).catch(refusalAsHttp);
    res.status(202).json(await answerOperation(ctx, req, labId, 'revert', requested));
  });

  return router;
}
