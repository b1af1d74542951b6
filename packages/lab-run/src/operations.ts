/**
 * Operations on a lab that is up: snapshots (of a VM, a copy or the whole lab), reverts to one (a
 * reset is a revert to `initial`), snapshot deletion and testing mode. Each request checks the lab's
 * state, records the operation and writes its job's intent in one transaction; a revert also moves
 * the lab and its VMs to `reverting` there, so nothing else takes them meanwhile. One such operation
 * runs per lab at a time.
 */
import {
  activeLabOperations,
  appendEvent,
  type Db,
  finishLabOperation,
  getLabExtras,
  getLabOperation,
  insertLabOperation,
  insertVmSnapshots,
  inTransaction,
  type JsonValue,
  type LabOperationKind,
  listVmSnapshots,
  listVmsOfLab,
  markLabFirstReady,
  setVmSnapshotStatus,
} from '@glassdome/db';
import { INITIAL_SNAPSHOT, LAB_SERVING, type LabStatus } from '@glassdome/lab';
import { jobIntent } from '@glassdome/queue';
import { loadLab } from './lab-record';
import { writeIntent } from './outbox';
import { moveLab, moveVm } from './transitions';

/** What an operation acts on. Copies are numbered from 0, as everywhere in the API. */
export type OperationTarget = { kind: 'lab' } | { kind: 'copy'; copy: number } | { kind: 'vm'; vmId: string };

/** Why a request was refused: nothing to act on (`not_found`) or not now (`conflict`). */
export class OperationRefused extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'OperationRefused';
  }
}

export interface RequestedOperation {
  operationId: string;
  jobId: string;
  /** VMs it acts on. */
  total: number;
}

/** Operations that change the lab's VMs: one at a time per lab. */
const EXCLUSIVE: readonly LabOperationKind[] = ['snapshot', 'revert', 'delete-snapshot', 'testing-start'];

const OPERABLE: ReadonlySet<LabStatus> = LAB_SERVING;

type VmRow = Awaited<ReturnType<typeof listVmsOfLab>>[number];

/** The lab's VMs a target names (torn-down ones never); a VM or copy it does not have is not found. */
export async function vmsOfTarget(db: Db, labId: string, target: OperationTarget): Promise<VmRow[]> {
  const vms = (await listVmsOfLab(db, labId)).filter((vm) => !['destroying', 'destroyed'].includes(vm.status));
  const chosen =
    target.kind === 'lab'
      ? vms
      : target.kind === 'copy'
        ? vms.filter((vm) => vm.copy === target.copy)
        : vms.filter((vm) => vm.id === target.vmId);
  if (chosen.length === 0) {
    const what = target.kind === 'copy' ? `copy ${target.copy}` : target.kind === 'vm' ? `VM ${target.vmId}` : 'VMs';
    throw new OperationRefused('not_found', `the lab has no ${what}`);
  }
  return chosen;
}

/** The lab must be up and not busy with another operation. */
async function requireOperable(trx: Db, labId: string) {
  const lab = await loadLab(trx, labId);
  if (!lab) throw new OperationRefused('not_found', 'lab not found');
  if (!OPERABLE.has(lab.status)) {
    throw new OperationRefused('conflict', `a ${lab.status} lab takes no snapshots or reverts; wait until it is ready`);
  }
  const busy = await activeLabOperations(trx, labId, EXCLUSIVE);
  if (busy.length > 0) {
    const op = busy[0]!;
    throw new OperationRefused(
      'conflict',
      `the lab is busy: ${op.kind}${op.snapshot ? ` ${op.snapshot}` : ''} (operation ${op.id}) is ${op.status}`,
    );
  }
  return lab;
}

function jobIdOf(kind: LabOperationKind, operationId: string): string {
  return `lab-${kind}.${operationId}`;
}

const JOB_OF_KIND = {
  snapshot: 'lab.snapshot',
  'delete-snapshot': 'lab.snapshot.delete',
  revert: 'lab.revert',
  'testing-start': 'lab.testing',
  'testing-stop': 'lab.testing',
  claim: 'lab.claim',
} as const;

/** Records the operation and writes its job's intent; returns both ids. */
export async function recordOperation(
  trx: Db,
  operation: {
    labId: string;
    kind: LabOperationKind;
    target: OperationTarget;
    snapshot?: string | null;
    options?: JsonValue;
    total: number;
    requestedBy?: string | null;
  },
): Promise<RequestedOperation> {
  const operationId = await insertLabOperation(trx, { ...operation, target: operation.target as JsonValue });
  const jobId = jobIdOf(operation.kind, operationId);
  await writeIntent(trx, jobIntent(JOB_OF_KIND[operation.kind], { operationId }, jobId));
  return { operationId, jobId, total: operation.total };
}

export interface SnapshotRequest {
  labId: string;
  target: OperationTarget;
  name: string;
  /** Keep each running VM's RAM too (a revert then resumes it where it was). @defaultValue false */
  withRam?: boolean;
  description?: string;
  requestedBy?: string | null;
}

/** `snapshotInTransaction` in a transaction of its own. */
export function requestSnapshot(db: Db, request: SnapshotRequest): Promise<RequestedOperation> {
  return inTransaction(db, (trx) => snapshotInTransaction(trx, request));
}

/** A snapshot of every ready VM of the target under one name; the name must be new on each of them. */
export async function snapshotInTransaction(trx: Db, request: SnapshotRequest): Promise<RequestedOperation> {
  await requireOperable(trx, request.labId);
  const vms = (await vmsOfTarget(trx, request.labId, request.target)).filter((vm) => vm.status === 'ready');
  if (vms.length === 0) throw new OperationRefused('conflict', 'none of the VMs it names is ready');
  const existing = (
    await listVmSnapshots(trx, request.labId, { name: request.name, vmIds: vms.map((vm) => vm.id) })
  ).filter((s) => s.status !== 'failed');
  if (existing.length > 0) {
    const names = existing.map((s) => `${s.vm_name} (copy ${s.copy})`);
    throw new OperationRefused('conflict', `snapshot ${request.name} already exists on ${names.join(', ')}`);
  }
  const requested = await recordOperation(trx, {
    labId: request.labId,
    kind: 'snapshot',
    target: request.target,
    snapshot: request.name,
    options: { withRam: request.withRam ?? false },
    total: vms.length,
    requestedBy: request.requestedBy ?? null,
  });
  const { taken } = await insertVmSnapshots(
    trx,
    vms.map((vm) => ({
      vmId: vm.id,
      labId: request.labId,
      copy: vm.copy ?? 0,
      name: request.name,
      scope: request.target.kind,
      withRam: request.withRam ?? false,
      description: request.description ?? null,
      operationId: requested.operationId,
    })),
  );
  if (taken.length > 0) {
    const names = vms.filter((vm) => taken.includes(vm.id)).map((vm) => `${vm.name} (copy ${vm.copy})`);
    throw new OperationRefused('conflict', `snapshot ${request.name} already exists on ${names.join(', ')}`);
  }
  await appendEvent(trx, {
    labId: request.labId,
    kind: 'lab.snapshot.requested',
    message: `snapshot ${request.name} of ${vms.length} VM(s) requested`,
    data: { operationId: requested.operationId, snapshot: request.name },
  });
  return requested;
}

/** The target's VMs with a ready snapshot of this name; refused when any VM of the target lacks one. */
async function snapshottedVms(trx: Db, labId: string, target: OperationTarget, name: string) {
  const vms = await vmsOfTarget(trx, labId, target);
  const snapshots = await listVmSnapshots(trx, labId, { name, vmIds: vms.map((vm) => vm.id) });
  const ready = new Set(snapshots.filter((s) => s.status === 'ready').map((s) => s.vm_id));
  const missing = vms.filter((vm) => !ready.has(vm.id));
  if (missing.length > 0) {
    const names = missing.map((vm) => `${vm.name} (copy ${vm.copy})`).join(', ');
    throw new OperationRefused('not_found', `no ready snapshot ${name} of ${names}`);
  }
  return vms;
}

/**
 * A revert of the target's VMs to `name`, in one transaction: the lab and those VMs become
 * `reverting`, and the job runs the rollbacks and the lab's verification again.
 */
export async function requestRevert(
  db: Db,
  request: { labId: string; target: OperationTarget; name: string; requestedBy?: string | null },
): Promise<RequestedOperation> {
  return inTransaction(db, async (trx) => {
    await requireOperable(trx, request.labId);
    const vms = await snapshottedVms(trx, request.labId, request.target, request.name);
    const blocked = vms.filter((vm) => !['ready', 'failed'].includes(vm.status));
    if (blocked.length > 0) {
      const names = blocked.map((vm) => `${vm.name} (${vm.status})`).join(', ');
      throw new OperationRefused('conflict', `cannot revert ${names}`);
    }
    if (!(await moveLab(trx, request.labId, 'revert'))) {
      throw new OperationRefused('conflict', 'the lab changed state meanwhile; try again');
    }
    for (const vm of vms) await moveVm(trx, vm.id, 'revert');
    const requested = await recordOperation(trx, {
      labId: request.labId,
      kind: 'revert',
      target: request.target,
      snapshot: request.name,
      total: vms.length,
      requestedBy: request.requestedBy ?? null,
    });
    await appendEvent(trx, {
      labId: request.labId,
      kind: 'lab.revert.requested',
      message: `revert of ${vms.length} VM(s) to ${request.name} requested`,
      data: { operationId: requested.operationId, snapshot: request.name },
    });
    for (const vm of vms) {
      await appendEvent(trx, {
        labId: request.labId,
        vmId: vm.id,
        kind: 'vm.revert.requested',
        message: `${vm.name} reverting to ${request.name}`,
      });
    }
    return requested;
  });
}

/** Deletes a snapshot of this name from the target's VMs (Glassdome's `initial` stays unless named). */
export async function requestSnapshotDelete(
  db: Db,
  request: { labId: string; target: OperationTarget; name: string; requestedBy?: string | null },
): Promise<RequestedOperation> {
  return inTransaction(db, async (trx) => {
    await requireOperable(trx, request.labId);
    const vms = await vmsOfTarget(trx, request.labId, request.target);
    const snapshots = (
      await listVmSnapshots(trx, request.labId, { name: request.name, vmIds: vms.map((v) => v.id) })
    ).filter((s) => s.status !== 'deleting');
    if (snapshots.length === 0) throw new OperationRefused('not_found', `no snapshot ${request.name} there`);
    for (const s of snapshots) await setVmSnapshotStatus(trx, { vmId: s.vm_id, name: s.name }, { status: 'deleting' });
    const requested = await recordOperation(trx, {
      labId: request.labId,
      kind: 'delete-snapshot',
      target: request.target,
      snapshot: request.name,
      options: { vmIds: snapshots.map((s) => s.vm_id) },
      total: snapshots.length,
      requestedBy: request.requestedBy ?? null,
    });
    await appendEvent(trx, {
      labId: request.labId,
      kind: 'lab.snapshot.delete-requested',
      message: `deletion of snapshot ${request.name} from ${snapshots.length} VM(s) requested`,
      data: { operationId: requested.operationId, snapshot: request.name },
    });
    return requested;
  });
}

/** An operation with its lab, as a job loads it. */
export async function loadOperation(db: Db, operationId: string) {
  const operation = await getLabOperation(db, operationId);
  if (!operation) return undefined;
  return {
    ...operation,
    target: operation.target as OperationTarget,
    options: (operation.options ?? {}) as Record<string, unknown>,
  };
}

/**
 * Called in the transaction that settles the lab's flow: the first time the lab is `ready`, its
 * `initial` snapshot (what a reset returns to) is requested with it; a pool copy that did not get
 * ready makes its pool deploy a replacement.
 */
export async function afterLabSettled(trx: Db, labId: string, status: string): Promise<void> {
  const extras = await getLabExtras(trx, labId);
  if (!extras) return;
  if (status === 'ready' && (await markLabFirstReady(trx, labId))) {
    await snapshotInTransaction(trx, {
      labId,
      target: { kind: 'lab' },
      name: INITIAL_SNAPSHOT,
      description: 'the lab as it first became ready; reset returns here',
    });
  }
  if (extras.pool_id && !extras.claimed_at && status !== 'ready') {
    await writeIntent(trx, (n) =>
      jobIntent('pool.fill', { poolId: extras.pool_id! }, `pool-fill.${extras.pool_id}.${n}`),
    );
  }
}

/**
 * The end of a revert: VMs that could not be brought back fail (with the reason), and the lab is
 * `ready` again when all of its VMs are and nothing failed, `degraded` otherwise; the operation
 * records the outcome.
 */
export async function settleRevert(
  db: Db,
  operationId: string,
  outcome: { failed: ReadonlyMap<string, string>; error?: string },
): Promise<'ready' | 'degraded' | 'gone'> {
  return inTransaction(db, async (trx) => {
    const operation = await loadOperation(trx, operationId);
    if (!operation) return 'gone';
    for (const [vmId, message] of outcome.failed)
      await moveVm(trx, vmId, 'fail', { error: `revert failed: ${message}` });
    const vms = (await listVmsOfLab(trx, operation.lab_id)).filter((vm) => vm.status !== 'destroyed');
    const stillReverting = vms.filter((vm) => vm.status === 'reverting');
    for (const vm of stillReverting) await moveVm(trx, vm.id, 'fail', { error: 'revert did not finish' });
    const notReady = vms.filter((vm) => vm.status !== 'ready' && !outcome.failed.has(vm.id));
    const problems = [
      ...[...outcome.failed.keys()].map((id) => vms.find((vm) => vm.id === id)?.name ?? id),
      ...(outcome.error ? [outcome.error] : []),
    ];
    const clean = problems.length === 0 && notReady.length === 0 && stillReverting.length === 0;
    const error = clean
      ? null
      : `revert to ${operation.snapshot}: ${problems.length > 0 ? `failed: ${problems.join('; ')}` : `${notReady.length} VM(s) not ready`}`;
    const moved = await moveLab(trx, operation.lab_id, clean ? 'settleReverted' : 'settleRevertDegraded', { error });
    await finishLabOperation(trx, operationId, { status: clean ? 'done' : 'failed', error });
    const status = clean ? 'ready' : 'degraded';
    if (moved) {
      await appendEvent(trx, {
        labId: operation.lab_id,
        kind: clean ? 'lab.reverted' : 'lab.revert.failed',
        message: clean ? `reverted to ${operation.snapshot}; lab ready` : (error ?? 'revert failed'),
        data: { operationId, snapshot: operation.snapshot },
      });
    }
    return status;
  });
}
