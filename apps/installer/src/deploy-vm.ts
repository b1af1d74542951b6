import { appendEvent } from '@glassdome/db';
import { ProxmoxError } from '@glassdome/proxmox';
import { type JobContext, PermanentError } from '@glassdome/queue';
import type { InstallerContext } from './context';
import { runSteps } from './step-runner';
import { postConfigure, verify, waitForSsh } from './steps/guest-steps';
import { withPermissionRepair } from './steps/permission';
import { cloneFromTemplate, configure, reserveVmid, start, waitForAgent } from './steps/proxmox-steps';
import { loadVm, updateVm, type VmRow } from './vm-record';

/** Where a VM's NIC goes: its own network (a lab's leased VLAN) or the request's bridge/tag. */
export interface Placement {
  bridge: string;
  tag: number | undefined;
}

export function requestPlacement(ctx: InstallerContext, vm: VmRow): Placement {
  return { bridge: vm.spec.network?.bridge ?? ctx.env.PROXMOX_BRIDGE, tag: vm.spec.network?.vlan };
}

/** Clone → configure → start → agent IP → SSH: the part of a deployment that needs no other VM. */
export function provisionSteps(ctx: InstallerContext, vm: VmRow, placement: Placement, signal: AbortSignal) {
  const repair = <T>(operation: () => Promise<T>) =>
    withPermissionRepair(ctx, { vmId: vm.id, labId: vm.lab_id }, operation, signal);
  return [
    { name: 'reserve-vmid', run: () => reserveVmid(ctx, vm) },
    { name: 'clone', run: () => repair(() => cloneFromTemplate(ctx, vm)) },
    { name: 'configure', run: () => repair(() => configure(ctx, vm, placement.bridge, placement.tag)) },
    { name: 'start', run: () => repair(() => start(ctx, vm)) },
    { name: 'wait-agent', run: (previousAttempts: number) => waitForAgent(ctx, vm, previousAttempts) },
    { name: 'wait-ssh', run: () => waitForSsh(ctx, vm) },
  ];
}

/** Post-configuration and verification: what a lab's `dependsOn` orders. */
export function configureSteps(ctx: InstallerContext, vm: VmRow) {
  return [
    { name: 'post-configure', run: () => postConfigure(ctx, vm) },
    { name: 'verify', run: () => verify(ctx, vm) },
  ];
}

/** True when no further attempt will follow this failure. */
export function isFinalFailure(error: unknown, context: JobContext): boolean {
  if (error instanceof PermanentError) return true;
  if (error instanceof ProxmoxError && !error.retryable) return true;
  return context.job.attemptsMade + 1 >= (context.job.opts.attempts ?? 1);
}

/** Turns a non-retryable Proxmox error into a PermanentError so BullMQ stops retrying it. */
export function asJobError(error: unknown): unknown {
  if (error instanceof ProxmoxError && !error.retryable) return new PermanentError(error.message);
  return error;
}

export async function deployVm(ctx: InstallerContext, vmId: string, context: JobContext): Promise<unknown> {
  const vm = await loadVm(ctx.db, vmId);
  if (!vm) throw new PermanentError(`VM ${vmId} does not exist`);
  if (vm.status === 'ready') return { vmId, status: 'ready' };
  if (vm.status !== 'queued' && vm.status !== 'deploying' && vm.status !== 'failed') {
    context.log.info({ vmId, status: vm.status }, 'not deploying a VM in this state');
    return { vmId, status: vm.status };
  }
  await updateVm(ctx.db, vm.id, { status: 'deploying', error: null });
  try {
    await runSteps(
      ctx,
      { vmId: vm.id, labId: vm.lab_id },
      [...provisionSteps(ctx, vm, requestPlacement(ctx, vm), context.signal), ...configureSteps(ctx, vm)],
      context.signal,
    );
  } catch (error) {
    if (isFinalFailure(error, context)) {
      const message = error instanceof Error ? error.message : String(error);
      await updateVm(ctx.db, vm.id, { status: 'failed', error: message });
      await appendEvent(ctx.db, { vmId: vm.id, kind: 'vm.failed', message });
    }
    throw asJobError(error);
  }
  await updateVm(ctx.db, vm.id, { status: 'ready' });
  await appendEvent(ctx.db, {
    vmId: vm.id,
    kind: 'vm.ready',
    message: `ready at ${vm.ip}`,
    data: { ip: vm.ip, vmid: vm.vmid },
  });
  return { vmId, status: 'ready', ip: vm.ip, vmid: vm.vmid };
}
