import {
  appendEvent,
  deleteVmidLeasesOfOwner,
  listVmidsLeasedBy,
  setVmDesiredAbsent,
  setVmPlacement,
} from '@glassdome/db';
import { moveVm } from '@glassdome/lab-run';
import { NotFoundError, type VmSummary } from '@glassdome/proxmox';
import { type JobContext, PermanentError } from '@glassdome/queue';
import { boundTo, type InstallerContext } from '../context';
import { forgetHostKey } from '../steps/guest-trust';
import { proxmoxName } from '../steps/proxmox-steps';
import { loadVm, type VmRow } from '../vm-record';
import { stopDeploysOf } from './stop-deploy';

/** How long a tear-down waits for a clone still being written into one of the VM's ids. */
const cloneLockWaitMs = 10 * 60_000;

/** Thrown when a clone into one of the VM's ids outlasts the wait: the tear-down is tried again. */
export class CloneInProgressError extends Error {
  constructor(readonly vmid: number) {
    super(`VM ${vmid} is still being cloned; tear-down will be tried again`);
    this.name = 'CloneInProgressError';
  }
}

/** What the VM's description says in Proxmox (written at clone time): how we know a VM is this one. */
function isOurs(description: unknown, vm: VmRow): boolean {
  return String(description ?? '').includes(`glassdome vm ${vm.id}`);
}

/**
 * Every VMID the VM may occupy: the recorded one, every id it holds a lease on (live or lapsed), and
 * any VM in the cluster carrying its Proxmox name (a clone that landed after its id was recorded
 * elsewhere). Each is checked against the description before anything is deleted.
 */
async function candidateVmids(ctx: InstallerContext, vm: VmRow, clusterVms?: VmSummary[]): Promise<number[]> {
  const listed = clusterVms ?? (await ctx.pve.vms.list(vm.node));
  const named = listed.filter((entry) => !entry.template && entry.name === proxmoxName(vm)).map((entry) => entry.vmid);
  const ids = new Set([...(vm.vmid ? [vm.vmid] : []), ...(await listVmidsLeasedBy(ctx.db, vm.id)), ...named]);
  return [...ids];
}

/**
 * Stops and deletes whatever Proxmox VM is this VM's (found by lease, recorded id and name), releases
 * its leases and marks it destroyed; safe to run any number of times. `clusterVms` lets a lab's
 * tear-down list the node once for all of its VMs (`nodeListings`).
 */
export async function removeVm(ctx: InstallerContext, vm: VmRow, clusterVms?: VmSummary[]): Promise<void> {
  for (const vmid of await candidateVmids(ctx, vm, clusterVms)) await deleteFromProxmox(ctx, vm, vmid);
  await deleteVmidLeasesOfOwner(ctx.db, vm.id);
  await forgetHostKey(ctx, vm);
  await moveVm(ctx.db, vm.id, 'destroy');
  await moveVm(ctx.db, vm.id, 'destroyed');
  await setVmPlacement(ctx.db, vm.id, { ip: null });
  await setVmDesiredAbsent(ctx.db, vm.id);
}

/**
 * Each node's VMs, listed once for a lab's whole tear-down (its VMs' flow has ended, so no clone lands
 * meanwhile): a 60-VM lab's tear-down listed its node 60 times, once per VM.
 */
export function nodeListings(ctx: InstallerContext): (node: string) => Promise<VmSummary[]> {
  const listed = new Map<string, Promise<VmSummary[]>>();
  return (node) => {
    let list = listed.get(node);
    if (!list) {
      list = ctx.pve.vms.list(node);
      listed.set(node, list);
    }
    return list;
  };
}

/** The VM's config once no clone is writing it (a stopped deploy's clone task runs on in Proxmox). */
async function settledConfig(ctx: InstallerContext, vm: VmRow, vmid: number) {
  const deadline = Date.now() + cloneLockWaitMs;
  for (;;) {
    let config: Awaited<ReturnType<typeof ctx.pve.vms.config>>;
    try {
      config = await ctx.pve.vms.config(vmid, vm.node);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
    if (config.lock !== 'clone') return config;
    if (Date.now() >= deadline) throw new CloneInProgressError(vmid);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function deleteFromProxmox(ctx: InstallerContext, vm: VmRow, vmid: number): Promise<void> {
  const config = await settledConfig(ctx, vm, vmid);
  // Never delete a VM that is not ours: the lease may have outlived a clone that never happened.
  if (!config || !isOurs(config.raw.description, vm)) return;
  const status = await ctx.pve.vms.status(vmid, vm.node);
  if (status.status !== 'stopped')
    await ctx.pve.tasks.wait(await ctx.pve.vms.stop(vmid, vm.node), { deadlineMs: 120_000 });
  await ctx.pve.tasks.wait(await ctx.pve.vms.destroy(vmid, { purge: true }, vm.node), { deadlineMs: 300_000 });
}

/**
 * `vm.destroy`: a standalone VM's tear-down. A deploy still running is stopped first (the VM is
 * already `destroying`, which aborts it; queued attempts are removed) and waited for, so no clone
 * lands after the sweep.
 */
export async function destroyVm(ctx: InstallerContext, vmId: string, context: JobContext): Promise<unknown> {
  const before = await loadVm(ctx.db, vmId);
  if (!before) throw new PermanentError(`VM ${vmId} does not exist`);
  if (before.status === 'destroyed') return { vmId, status: 'destroyed' };
  await stopDeploysOf(ctx, vmId, context.signal);
  // Reloaded: the stopped deploy may have recorded a VMID meanwhile.
  const vm = (await loadVm(ctx.db, vmId))!;
  await removeVm(boundTo(ctx, context.signal), vm);
  await appendEvent(ctx.db, { vmId: vm.id, labId: vm.lab_id, kind: 'vm.destroyed', message: 'destroyed' });
  return { vmId, status: 'destroyed' };
}
