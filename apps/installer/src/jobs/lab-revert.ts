/**
 * `lab.revert`: the VMs of the operation (already `reverting`) are rolled back to the snapshot and
 * started, all at once, each Proxmox call in one of its node's operation slots; each is then waited
 * for (agent address, SSH), gets its trainee keys back if the snapshot predates them, and is verified
 * as after a deploy. Once every VM is back the lab's isolation check runs again (when its graph has
 * one), and the lab is `ready` again — or `degraded`, naming what failed.
 */
import { appendEvent, listVmsOfLab, setLabOperationProgress, setVmPlacement } from '@glassdome/db';
import { loadLab, moveVm, settleRevert } from '@glassdome/lab-run';
import { isFinalAttempt, type JobContext } from '@glassdome/queue';
import { boundTo, type InstallerContext } from '../context';
import { verify, waitForSsh } from '../steps/guest-steps';
import { managementMac } from '../steps/guest-trust';
import { ensureAuthorizedKeys } from '../steps/trainee-keys';
import { loadVm, type VmRow } from '../vm-record';
import { runIsolationCheck } from './lab-isolation';
import { beginOperation, eachAtOnce } from './lab-snapshot';

const TASK_DEADLINE_MS = 10 * 60_000;

/** Rolls one VM back (running again afterwards) and waits until it answers as after its deploy. */
async function revertVm(ctx: InstallerContext, vm: VmRow, name: string, signal: AbortSignal): Promise<void> {
  await ctx.admission.withNodeSlot(
    vm.node,
    async () => {
      const upid = await ctx.pve.vms.rollback(vm.vmid!, name, { start: true }, vm.node);
      await ctx.pve.tasks.wait(upid, { deadlineMs: TASK_DEADLINE_MS });
    },
    signal,
  );
  // Glassdome reaches the guest on its management NIC, the one after its lab networks.
  const mac = await managementMac(ctx, vm, (vm.spec.networks ?? []).length);
  const found = await ctx.pve.agent.waitForIp(vm.vmid!, {
    node: vm.node,
    deadlineMs: ctx.env.AGENT_TIMEOUT_SECONDS * 1000,
    mac,
  });
  if (found.ip !== vm.ip) {
    await setVmPlacement(ctx.db, vm.id, { ip: found.ip });
    vm.ip = found.ip;
  }
  await waitForSsh(ctx, vm);
  await ensureAuthorizedKeys(ctx, vm, vm.spec.cloudInit.sshKeys);
  await verify(ctx, vm);
}

export async function revertLab(ctx: InstallerContext, operationId: string, context: JobContext) {
  const operation = await beginOperation(ctx, operationId);
  if (!operation) return { operationId, skipped: true };
  const job = boundTo(ctx, context.signal);
  const name = operation.snapshot!;
  const lab = await loadLab(ctx.db, operation.lab_id);
  if (lab?.status !== 'reverting') {
    await settleRevert(ctx.db, operationId, { failed: new Map(), error: `the lab is ${lab?.status ?? 'gone'}` });
    return { operationId, skipped: true };
  }
  const vms: VmRow[] = [];
  for (const id of await reverting(ctx, operation.lab_id)) {
    const vm = await loadVm(ctx.db, id);
    if (vm) vms.push(vm);
  }
  let done = operation.total - vms.length;
  const failures = await eachAtOnce(
    vms,
    (vm) => vm.id,
    async (vm) => {
      if (!vm.vmid) throw new Error(`${vm.name} has no VM in Proxmox`);
      await revertVm(job, vm, name, context.signal);
      await moveVm(ctx.db, vm.id, 'reverted', { error: null });
      await setLabOperationProgress(ctx.db, operation.id, ++done);
      await appendEvent(ctx.db, {
        labId: operation.lab_id,
        vmId: vm.id,
        kind: 'vm.reverted',
        message: `${vm.name} reverted to ${name} and verified at ${vm.ip}`,
      });
    },
  );
  if (failures.size > 0) {
    const named = new Map(
      [...failures].map(([id, message]) => [id, `${vms.find((vm) => vm.id === id)?.name}: ${message}`]),
    );
    const error = new Error([...named.values()].join('; '));
    if (!isFinalAttempt(error, context.job)) throw error;
    await settleRevert(ctx.db, operationId, { failed: failures });
    return { operationId, failed: failures.size };
  }
  let isolationError: string | undefined;
  if (lab.graph.tasks.some((task) => task.kind === 'isolation')) {
    try {
      await runIsolationCheck(job, lab, context.signal);
    } catch (error) {
      // A disagreement is final (PermanentError); anything else gets the job's next attempt.
      if (!isFinalAttempt(error, context.job)) throw error;
      isolationError = `isolation check: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  const status = await settleRevert(ctx.db, operationId, {
    failed: new Map(),
    ...(isolationError ? { error: isolationError } : {}),
  });
  return { operationId, reverted: vms.length, status };
}

/** The lab's VMs still `reverting` (a retried revert skips those it already brought back). */
async function reverting(ctx: InstallerContext, labId: string): Promise<string[]> {
  return (await listVmsOfLab(ctx.db, labId)).filter((vm) => vm.status === 'reverting').map((vm) => vm.id);
}
