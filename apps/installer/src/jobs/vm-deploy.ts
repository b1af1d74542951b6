import { appendEvent } from '@glassdome/db';
import { moveVm } from '@glassdome/lab-run';
import { ProxmoxError } from '@glassdome/proxmox';
import { isFinalAttempt, type JobContext, PermanentError } from '@glassdome/queue';
import type { InstallerContext } from '../context';
import { configureSteps, provisionSteps, requestPlacement, runSteps } from '../pipeline';
import { loadVm } from '../vm-record';

/** Turns a non-retryable Proxmox error into a PermanentError so BullMQ stops retrying it. */
export function asJobError(error: unknown): unknown {
  if (error instanceof ProxmoxError && !error.retryable) return new PermanentError(error.message);
  return error;
}

/** `vm.deploy`: every step of a standalone VM, in one job. */
export async function deployVm(ctx: InstallerContext, vmId: string, context: JobContext): Promise<unknown> {
  const vm = await loadVm(ctx.db, vmId);
  if (!vm) throw new PermanentError(`VM ${vmId} does not exist`);
  if (vm.status === 'ready') return { vmId, status: 'ready' };
  if (!(await moveVm(ctx.db, vm.id, 'deploy', { error: null }))) {
    context.log.info({ vmId, status: vm.status }, 'not deploying a VM in this state');
    return { vmId, status: vm.status };
  }
  try {
    await runSteps(
      ctx,
      { vmId: vm.id, labId: vm.lab_id },
      [...provisionSteps(ctx, vm, requestPlacement(ctx, vm), context.signal), ...configureSteps(ctx, vm)],
      { signal: context.signal },
    );
  } catch (error) {
    const jobError = asJobError(error);
    if (isFinalAttempt(jobError, context.job)) {
      const message = error instanceof Error ? error.message : String(error);
      await moveVm(ctx.db, vm.id, 'fail', { error: message });
      await appendEvent(ctx.db, { vmId: vm.id, kind: 'vm.failed', message });
    }
    throw jobError;
  }
  await moveVm(ctx.db, vm.id, 'ready');
  await appendEvent(ctx.db, {
    vmId: vm.id,
    kind: 'vm.ready',
    message: `ready at ${vm.ip}`,
    data: { ip: vm.ip, vmid: vm.vmid },
  });
  return { vmId, status: 'ready', ip: vm.ip, vmid: vm.vmid };
}
