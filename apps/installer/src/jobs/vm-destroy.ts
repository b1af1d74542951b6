import { appendEvent, deleteVmidLeasesOf, setVmDesiredAbsent, setVmPlacement } from '@glassdome/db';
import { moveVm } from '@glassdome/lab-run';
import { NotFoundError } from '@glassdome/proxmox';
import { PermanentError } from '@glassdome/queue';
import { DEFAULT_PLATFORM } from '@glassdome/runtime';
import type { InstallerContext } from '../context';
import { loadVm, type VmRow } from '../vm-record';

/** Stops and deletes the VM if it exists, releases its VMID lease; safe to run any number of times. */
export async function removeVm(ctx: InstallerContext, vm: VmRow): Promise<void> {
  const lease = vm.vmid ?? (await ctx.vmids.findLeaseByOwner({ platformId: DEFAULT_PLATFORM, owner: vm.id }))?.vmid;
  if (lease !== undefined && lease !== null) {
    await deleteFromProxmox(ctx, vm, lease);
    await ctx.vmids.releaseVmid({ platformId: DEFAULT_PLATFORM, owner: vm.id, vmid: lease });
  }
  await deleteVmidLeasesOf(ctx.db, vm.id);
  if (vm.ip) await ctx.hostKeys.forget(vm.ip, ctx.env.GUEST_SSH_PORT);
  await moveVm(ctx.db, vm.id, 'destroy');
  await moveVm(ctx.db, vm.id, 'destroyed');
  await setVmPlacement(ctx.db, vm.id, { ip: null });
  await setVmDesiredAbsent(ctx.db, vm.id);
}

async function deleteFromProxmox(ctx: InstallerContext, vm: VmRow, vmid: number): Promise<void> {
  let config: Awaited<ReturnType<typeof ctx.pve.vms.config>>;
  try {
    config = await ctx.pve.vms.config(vmid, vm.node);
  } catch (error) {
    if (error instanceof NotFoundError) return;
    throw error;
  }
  // Never delete a VM that is not ours: the lease may have outlived a clone that never happened.
  if (!String(config.raw.description ?? '').includes(vm.id)) return;
  const status = await ctx.pve.vms.status(vmid, vm.node);
  if (status.status !== 'stopped')
    await ctx.pve.tasks.wait(await ctx.pve.vms.stop(vmid, vm.node), { deadlineMs: 120_000 });
  await ctx.pve.tasks.wait(await ctx.pve.vms.destroy(vmid, { purge: true }, vm.node), { deadlineMs: 300_000 });
}

/** `vm.destroy`: a standalone VM's tear-down. */
export async function destroyVm(ctx: InstallerContext, vmId: string): Promise<unknown> {
  const vm = await loadVm(ctx.db, vmId);
  if (!vm) throw new PermanentError(`VM ${vmId} does not exist`);
  if (vm.status === 'destroyed') return { vmId, status: 'destroyed' };
  await removeVm(ctx, vm);
  await appendEvent(ctx.db, { vmId: vm.id, labId: vm.lab_id, kind: 'vm.destroyed', message: 'destroyed' });
  return { vmId, status: 'destroyed' };
}
