/**
 * `lab.snapshot` and `lab.snapshot.delete`: one Proxmox snapshot (or deletion) per VM of the
 * operation, all VMs at once, each Proxmox call inside one of its node's operation slots. Both are
 * safe to repeat: a snapshot that already exists on the VM counts as taken, one already gone as
 * deleted.
 */
import {
  appendEvent,
  type Db,
  deleteVmSnapshotRow,
  finishLabOperation,
  getLabExtras,
  listVmSnapshots,
  listVmsOfLab,
  recordVmSnapshotTaken,
  setLabOperationProgress,
  setVmSnapshotStatus,
  startLabOperation,
} from '@glassdome/db';
import { loadOperation } from '@glassdome/lab-run';
import { NotFoundError } from '@glassdome/proxmox';
import { isFinalAttempt, type JobContext } from '@glassdome/queue';
import { boundTo, type InstallerContext } from '../context';

const TASK_DEADLINE_MS = 10 * 60_000;

type Operation = NonNullable<Awaited<ReturnType<typeof loadOperation>>>;

/**
 * Loads the operation and marks it running; undefined when there is nothing (more) to do. An
 * operation on a lab being torn down (or gone) ends at once, failed, touching nothing.
 */
export async function beginOperation(ctx: InstallerContext, operationId: string): Promise<Operation | undefined> {
  const operation = await loadOperation(ctx.db, operationId);
  if (!operation || operation.status === 'done' || operation.status === 'failed') return undefined;
  const lab = await getLabExtras(ctx.db, operation.lab_id);
  if (!lab || ['destroying', 'destroyed', 'cancelled', 'failed'].includes(lab.status)) {
    await finishLabOperation(ctx.db, operation.id, { status: 'failed', error: `the lab is ${lab?.status ?? 'gone'}` });
    return undefined;
  }
  await startLabOperation(ctx.db, operation.id);
  return operation;
}

/** Runs `work` for each item side by side; returns the failures by item key. */
export async function eachAtOnce<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  work: (item: T) => Promise<void>,
): Promise<Map<string, string>> {
  const results = await Promise.allSettled(items.map(work));
  const failures = new Map<string, string>();
  results.forEach((result, index) => {
    if (result.status === 'rejected') {
      const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
      failures.set(keyOf(items[index]!), reason);
    }
  });
  return failures;
}

/**
 * The VMs of the lab by id, read in one statement when an operation has VMs to work on (instead of
 * one read per VM): only their VMID, node and name are used.
 */
async function labVms(db: Db, labId: string, rows: readonly unknown[]) {
  if (rows.length === 0) return new Map<string, Awaited<ReturnType<typeof listVmsOfLab>>[number]>();
  return new Map((await listVmsOfLab(db, labId)).map((vm) => [vm.id, vm]));
}

/** A failure worth another attempt (not the last): thrown so the job is retried. */
function retryOrGiveUp(failures: Map<string, string>, context: JobContext): boolean {
  if (failures.size === 0) return false;
  const error = new Error([...failures.values()].join('; '));
  if (!isFinalAttempt(error, context.job)) throw error;
  return true;
}

export async function takeSnapshots(ctx: InstallerContext, operationId: string, context: JobContext) {
  const operation = await beginOperation(ctx, operationId);
  if (!operation) return { operationId, skipped: true };
  const job = boundTo(ctx, context.signal);
  const name = operation.snapshot!;
  const withRam = operation.options.withRam === true;
  const rows = (await listVmSnapshots(ctx.db, operation.lab_id, { name })).filter(
    (row) => row.operation_id === operation.id,
  );
  let done = rows.filter((row) => row.status === 'ready').length;
  const pending = rows.filter((row) => row.status === 'creating');
  const vms = await labVms(ctx.db, operation.lab_id, pending);
  const failures = await eachAtOnce(
    pending,
    (row) => row.vm_name,
    async (row) => {
      const vm = vms.get(row.vm_id);
      if (!vm?.vmid) throw new Error(`${row.vm_name} has no VM in Proxmox`);
      await job.admission.withNodeSlot(
        vm.node,
        async () => {
          const existing = await job.pve.vms.snapshots(vm.vmid!, vm.node);
          if (existing.some((snapshot) => snapshot.name === name)) return;
          const upid = await job.pve.vms.snapshot(
            vm.vmid!,
            name,
            { withRam, ...(row.description ? { description: row.description } : {}) },
            vm.node,
          );
          await job.pve.tasks.wait(upid, { deadlineMs: TASK_DEADLINE_MS });
        },
        context.signal,
      );
      await recordVmSnapshotTaken(ctx.db, {
        vmId: vm.id,
        labId: operation.lab_id,
        name,
        operationId: operation.id,
        done: ++done,
        event: {
          kind: 'vm.snapshot.taken',
          message: `snapshot ${name} of ${vm.name} taken${withRam ? ' with RAM' : ''}`,
        },
      });
    },
  );
  if (retryOrGiveUp(failures, context)) {
    for (const row of pending.filter((r) => failures.has(r.vm_name))) {
      await setVmSnapshotStatus(
        ctx.db,
        { vmId: row.vm_id, name },
        { status: 'failed', error: failures.get(row.vm_name)! },
      );
    }
    const error = [...failures].map(([vm, message]) => `${vm}: ${message}`).join('; ');
    await finishLabOperation(ctx.db, operation.id, { status: 'failed', error });
    await appendEvent(ctx.db, {
      labId: operation.lab_id,
      kind: 'lab.snapshot.failed',
      message: `snapshot ${name}: ${error}`,
    });
    return { operationId, failed: failures.size };
  }
  await finishLabOperation(ctx.db, operation.id, { status: 'done' });
  await appendEvent(ctx.db, {
    labId: operation.lab_id,
    kind: 'lab.snapshot.taken',
    message: `snapshot ${name} of ${rows.length} VM(s) taken`,
    data: { operationId, snapshot: name },
  });
  return { operationId, snapshots: rows.length };
}

export async function deleteSnapshots(ctx: InstallerContext, operationId: string, context: JobContext) {
  const operation = await beginOperation(ctx, operationId);
  if (!operation) return { operationId, skipped: true };
  const job = boundTo(ctx, context.signal);
  const name = operation.snapshot!;
  const vmIds = (operation.options.vmIds as string[] | undefined) ?? [];
  const rows = (await listVmSnapshots(ctx.db, operation.lab_id, { name, vmIds })).filter(
    (row) => row.status === 'deleting',
  );
  let done = 0;
  const vms = await labVms(ctx.db, operation.lab_id, rows);
  const failures = await eachAtOnce(
    rows,
    (row) => row.vm_name,
    async (row) => {
      const vm = vms.get(row.vm_id);
      if (vm?.vmid) {
        await job.admission.withNodeSlot(
          vm.node,
          async () => {
            const existing = await job.pve.vms.snapshots(vm.vmid!, vm.node).catch((error: unknown) => {
              if (error instanceof NotFoundError) return [];
              throw error;
            });
            if (!existing.some((snapshot) => snapshot.name === name)) return;
            await job.pve.tasks.wait(await job.pve.vms.deleteSnapshot(vm.vmid!, name, vm.node), {
              deadlineMs: TASK_DEADLINE_MS,
            });
          },
          context.signal,
        );
      }
      await deleteVmSnapshotRow(ctx.db, { vmId: row.vm_id, name });
      await setLabOperationProgress(ctx.db, operation.id, ++done);
    },
  );
  if (retryOrGiveUp(failures, context)) {
    for (const row of rows.filter((r) => failures.has(r.vm_name))) {
      await setVmSnapshotStatus(
        ctx.db,
        { vmId: row.vm_id, name },
        { status: 'ready', error: failures.get(row.vm_name)! },
      );
    }
    const error = [...failures].map(([vm, message]) => `${vm}: ${message}`).join('; ');
    await finishLabOperation(ctx.db, operation.id, { status: 'failed', error });
    return { operationId, failed: failures.size };
  }
  await finishLabOperation(ctx.db, operation.id, { status: 'done' });
  await appendEvent(ctx.db, {
    labId: operation.lab_id,
    kind: 'lab.snapshot.deleted',
    message: `snapshot ${name} deleted from ${rows.length} VM(s)`,
    data: { operationId, snapshot: name },
  });
  return { operationId, deleted: rows.length };
}
