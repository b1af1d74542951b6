/**
 * What each remediation does. Every action re-checks its target first (the scan that asked for it
 * may be minutes old) and returns a one-line description of what it did, for the timeline.
 */
import { findVmByVmid, getLabExtras, getVm, listNetworkLeaseHoldings, setVmPlacement } from '@glassdome/db';
import { loadLab, recloneLabVm, requestLabDestroy, writeIntent } from '@glassdome/lab-run';
import { NotFoundError, vnetIdOfTag } from '@glassdome/proxmox';
import { jobIntent, PermanentError } from '@glassdome/queue';
import type { OverseerContext } from './context';
import type { RemediationAction } from './env';
import type { RemediationTarget } from './findings';
import { leakedNamedNetwork, leaseIsLeaked } from './networks';
import { GLASSDOME_TAG } from './reconcile-vms';

/** How long one Proxmox task (start, reboot, destroy) may take. */
const TASK_DEADLINE_MS = 120_000;

/** The target no longer needs this repair; the attempt counts as done. */
export class NothingToDo extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NothingToDo';
  }
}

type ActionFn = (
  ctx: OverseerContext,
  target: Omit<RemediationTarget, 'action'> & { platformId: string },
) => Promise<string>;

/** The VM record, when it still should run on the VMID the scan saw. */
async function runnableVm(ctx: OverseerContext, vmId: string | undefined) {
  if (!vmId) throw new PermanentError('this action needs a vmId');
  const vm = await getVm(ctx.db, vmId);
  if (!vm || vm.vmid === null) throw new NothingToDo('the VM record is gone or has no VMID');
  if (vm.status !== 'ready' || vm.desired_state !== 'running') {
    throw new NothingToDo(`the VM is ${vm.status} with desired state ${vm.desired_state}`);
  }
  return { ...vm, vmid: vm.vmid };
}

const startVm: ActionFn = async (ctx, target) => {
  const vm = await runnableVm(ctx, target.vmId);
  const current = await ctx.pve.vms.status(vm.vmid, vm.node);
  if (current.status === 'running') throw new NothingToDo(`VM ${vm.vmid} is already running`);
  await ctx.pve.waitForTask(await ctx.pve.vms.start(vm.vmid, vm.node), { deadlineMs: TASK_DEADLINE_MS });
  return `started VM ${vm.vmid} on ${vm.node}`;
};

const rebootVm: ActionFn = async (ctx, target) => {
  const vm = await runnableVm(ctx, target.vmId);
  await ctx.pve.waitForTask(await ctx.pve.vms.reboot(vm.vmid, vm.node), { deadlineMs: TASK_DEADLINE_MS });
  return `rebooted VM ${vm.vmid} on ${vm.node}`;
};

const rewaitAgent: ActionFn = async (ctx, target) => {
  const vm = await runnableVm(ctx, target.vmId);
  const { ip } = await ctx.pve.waitForAgentIp(vm.node, vm.vmid, { deadlineMs: TASK_DEADLINE_MS });
  await setVmPlacement(ctx.db, vm.id, { ip });
  return `guest agent of VM ${vm.vmid} reported ${ip}`;
};

const destroyOrphan: ActionFn = async (ctx, target) => {
  const { vmid, node } = target;
  if (vmid === undefined || !node) throw new PermanentError('destroy-orphan needs vmid and node');
  if (await findVmByVmid(ctx.db, vmid, ['destroyed'])) throw new NothingToDo(`VM ${vmid} has an owner again`);
  const config = await ctx.pve.vms.config(vmid, node);
  const tags = String(config.raw.tags ?? '').split(/[;,\s]+/);
  if (!tags.includes(GLASSDOME_TAG) || config.template) throw new NothingToDo(`VM ${vmid} is not a Glassdome VM`);
  const status = await ctx.pve.vms.status(vmid, node);
  if (status.status === 'running') {
    await ctx.pve.waitForTask(await ctx.pve.vms.stop(vmid, node), { deadlineMs: TASK_DEADLINE_MS });
  }
  await ctx.pve.waitForTask(await ctx.pve.vms.destroy(vmid, {}, node), { deadlineMs: TASK_DEADLINE_MS });
  return `destroyed orphan VM ${vmid} on ${node}`;
};

const expireLab: ActionFn = async (ctx, target) => {
  if (!target.labId) throw new PermanentError('expire-lab needs a labId');
  const lab = await loadLab(ctx.db, target.labId);
  if (!lab || lab.status === 'destroying' || lab.status === 'destroyed') {
    throw new NothingToDo('the lab is already being torn down or gone');
  }
  // The TTL may have been extended (PATCH /labs/:id) since the scan that found it expired.
  const expiresAt = (await getLabExtras(ctx.db, lab.id))?.expires_at;
  if (!expiresAt || expiresAt.getTime() > Date.now()) {
    throw new NothingToDo(`the lab's TTL was extended (${expiresAt ? `now ${expiresAt.toISOString()}` : 'no expiry'})`);
  }
  if (!(await requestLabDestroy(ctx.db, lab.id, 'the overseer: past its TTL'))) {
    throw new NothingToDo('the lab changed state meanwhile');
  }
  await ctx.relay.flush().catch(() => {});
  return `lab ${target.labId} past its TTL: tear-down enqueued`;
};

/**
 * A lab VM deleted behind our back is deployed again by the installer's own lab tasks (so it lands on
 * the lab's leased networks exactly as before), as the next run of the lab's flow.
 */
const recloneVm: ActionFn = async (ctx, target) => {
  const vm = await runnableVm(ctx, target.vmId);
  if (!vm.lab_id) throw new PermanentError('reclone-vm applies to lab VMs');
  try {
    await ctx.pve.vms.config(vm.vmid, vm.node);
    throw new NothingToDo(`VM ${vm.vmid} exists again`);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  const message = await recloneLabVm(ctx.db, vm.id);
  await ctx.relay.flush().catch(() => {});
  return message;
};

/** A lab VM's firewall differs from its lab's policy: the installer re-applies what the policy compiles to. */
const restoreFirewall: ActionFn = async (ctx, target) => {
  const vm = await runnableVm(ctx, target.vmId);
  if (!vm.lab_id) throw new PermanentError('restore-firewall applies to lab VMs');
  const id = await writeIntent(ctx.db, (n) => jobIntent('vm.firewall', { vmId: vm.id }, `vm-firewall.${vm.id}.${n}`));
  await ctx.relay.flush().catch(() => {});
  return `re-applying the firewall of ${vm.name} (job vm-firewall.${vm.id}.${id})`;
};

/**
 * A destroyed or deleted lab still holds leases: its `network.release` runs again (it is idempotent);
 * a named network's lease outlived its row: `network.named-delete` releases it.
 */
const releaseNetwork: ActionFn = async (ctx, target) => {
  if (target.networkId) return releaseNamedNetwork(ctx, target.platformId, target.networkId);
  if (!target.labId) throw new PermanentError('release-network needs a labId or a networkId');
  const leases = (await listNetworkLeaseHoldings(ctx.db, target.platformId)).filter(
    (lease) => lease.labId === target.labId && leaseIsLeaked(lease),
  );
  if (leases.length === 0) throw new NothingToDo('the lab holds no leases, or is live again');
  const labId = target.labId;
  const id = await writeIntent(ctx.db, (n) =>
    jobIntent('network.release', { labId }, `network-release.${labId}.o${n}`),
  );
  await ctx.relay.flush().catch(() => {});
  return `releasing ${leases.length} network(s) of lab ${labId} (job network-release.${labId}.o${id})`;
};

async function releaseNamedNetwork(ctx: OverseerContext, platformId: string, networkId: string) {
  const leases = await listNetworkLeaseHoldings(ctx.db, platformId);
  if (!leases.some((lease) => leakedNamedNetwork(lease) === networkId)) {
    throw new NothingToDo('the network holds no lease, or exists again');
  }
  const id = await writeIntent(ctx.db, (n) =>
    jobIntent('network.named-delete', { networkId }, `network-named-delete.${networkId}.o${n}`),
  );
  await ctx.relay.flush().catch(() => {});
  return `releasing the lease of gone network ${networkId} (job network-named-delete.${networkId}.o${id})`;
}

/** A VNet of Glassdome's zone that no lease holds: the gateway deletes it (checking the same again). */
const deleteVnet: ActionFn = async (ctx, target) => {
  const vnet = target.vnet;
  if (!vnet) throw new PermanentError('delete-vnet needs a vnet');
  const leases = await listNetworkLeaseHoldings(ctx.db, target.platformId);
  if (leases.some((lease) => vnetIdOfTag(lease.tag) === vnet)) throw new NothingToDo(`VNet ${vnet} is leased again`);
  const id = await writeIntent(ctx.db, (n) =>
    jobIntent('network.delete-vnet', { vnet }, `network-delete-vnet.${vnet}.${n}`),
  );
  await ctx.relay.flush().catch(() => {});
  return `deleting VNet ${vnet} (job network-delete-vnet.${vnet}.${id})`;
};

export const ACTIONS: Record<RemediationAction, ActionFn> = {
  'restore-firewall': restoreFirewall,
  'reclone-vm': recloneVm,
  'start-vm': startVm,
  'rewait-agent': rewaitAgent,
  'reboot-vm': rebootVm,
  'destroy-orphan': destroyOrphan,
  'expire-lab': expireLab,
  'release-network': releaseNetwork,
  'delete-vnet': deleteVnet,
};
