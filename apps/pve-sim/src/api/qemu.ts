/** `/nodes/{node}/qemu`: list, create and destroy VMs. */

import { fail } from '../errors';
import { vmLockPath, withLock } from '../locks';
import { removeVmFirewall } from '../network/firewall-config';
import { leaseDhcp } from '../network/topology';
import { requirePrivileges, vmPrivilegeChecker } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { Vm } from '../state/types';
import { freeVolumes } from '../storage';
import { flag, p } from '../validate';
import { assertUnlocked, checkSkiplock, loadVm, requireNode } from './vm-access';
import { applyConfigChange, checkConfigPermissions, configKeySpec } from './vm-config-keys';
import { KeptList, keptListRow, listKey } from './vm-rows';
import { uptimeOf } from './vm-status';

/** The VMs of a node the caller may audit (VM.Audit), as kept rows (see vm-rows.ts). */
function listVms({ sim, params, who }: HandlerContext) {
  const node = params.node!;
  requireNode(sim, node);
  const mayAudit = vmPrivilegeChecker(sim.state, who, ['VM.Audit']);
  const now = Date.now();
  const list = new KeptList(sim.state, listKey(`/nodes/${node}/qemu`, who));
  for (const vm of Object.values(sim.state.vms)) {
    if (vm.node !== node || !mayAudit(vm)) continue;
    list.add(keptListRow(vm, now), uptimeOf(vm, now));
  }
  return list;
}

/** VM.Allocate on the new id, or on the pool it goes into. */
export function checkAllocate(ctx: HandlerContext, vmid: number, pool?: string): void {
  const { sim, who } = ctx;
  if (pool) {
    if (!sim.state.pools[pool]) fail(`pool '${pool}' does not exist`);
    requirePrivileges(sim.state, who, `/pool/${pool}`, ['VM.Allocate']);
  } else {
    requirePrivileges(sim.state, who, `/vms/${vmid}`, ['VM.Allocate']);
  }
}

const createOnly = new Set([
  'vmid',
  'node',
  'storage',
  'pool',
  'start',
  'archive',
  'force',
  'unique',
  'live-restore',
  'bwlimit',
  'import-working-storage',
]);

function createVm(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  const node = params.node!;
  const vmid = Number(params.vmid);
  requireNode(sim, node);
  checkAllocate(ctx, vmid, params.pool);
  const values = Object.fromEntries(Object.entries(params).filter(([key]) => !createOnly.has(key)));
  const vm: Vm = { vmid, node, status: 'stopped', config: { lock: 'create' }, snapshots: {} };
  checkConfigPermissions(sim, who, vm, Object.keys(values), values);
  const existing = sim.state.vms[vmid];
  if (existing) fail(`unable to create VM ${vmid} - VM ${vmid} already exists on node '${existing.node}'`);
  // PVE writes the config with `lock: create` before answering, so the id is taken at once.
  sim.state.vms[vmid] = vm;
  leaseDhcp(sim.state.vms, [vm], sim.options.guestSubnet);
  if (params.pool) {
    vm.pool = params.pool;
    sim.state.pools[params.pool]!.vmids.push(vmid);
  }
  return sim.tasks.start(node, 'qmcreate', String(vmid), who, async (log) => {
    try {
      await sim.clock.sleep('smallTask', { taskWork: true });
      await applyConfigChange(sim, vm, values, [], log);
      vm.config.smbios1 ??= `uuid=${sim.random.uuid()}`;
      vm.config.vmgenid ??= sim.random.uuid();
      vm.config.meta ??= `creation-qemu=8.1.5,ctime=${Math.floor(Date.now() / 1000)}`;
      delete vm.config.lock;
    } catch (error) {
      await freeVolumes(sim, vm).catch(() => undefined);
      removeVm(ctx, vm);
      throw error;
    }
    if (flag(params.start)) sim.powerOn(vm);
  });
}

/** Forgets a VM entirely: config, pool membership and (when purging) its ACL entries. */
export function removeVm({ sim }: HandlerContext, vm: Vm, purge = false): void {
  if (sim.state.vms[vm.vmid] === vm) delete sim.state.vms[vm.vmid];
  if (vm.pool) {
    const pool = sim.state.pools[vm.pool];
    if (pool) pool.vmids = pool.vmids.filter((id) => id !== vm.vmid);
  }
  if (purge) sim.state.acl = sim.state.acl.filter((entry) => entry.path !== `/vms/${vm.vmid}`);
  sim.powerOff(vm);
}

function destroyVm(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Allocate']);
  const skiplock = checkSkiplock(params.skiplock, who.userid, who.tokenid);
  if (vm.config.protection === '1') fail(`can't remove VM ${vm.vmid} - protection mode enabled`);
  if (vm.status === 'running') fail(`VM ${vm.vmid} is running - destroy failed`);
  return sim.tasks.start(vm.node, 'qmdestroy', String(vm.vmid), who, async () => {
    await withLock(sim.locks, vmLockPath(vm.vmid), 'exclusive', sim.clock.ms('vmLockTimeout'), async () => {
      assertUnlocked(vm, skiplock);
      if (vm.status === 'running') fail(`VM ${vm.vmid} is running - destroy failed`);
      await sim.clock.sleep('smallTask', { taskWork: true });
      await freeVolumes(sim, vm);
      removeVm(ctx, vm, flag(params.purge));
      removeVmFirewall(sim.state, vm.vmid);
    });
  });
}

export const qemuRoutes: Route[] = [
  { method: 'GET', path: '/nodes/{node}/qemu', params: { node: p.node, full: p.bool }, handler: listVms },
  // The simulator runs no containers: the container list of an existing node is empty, as on a PVE node
  // without any (clients such as Ansible's proxmox inventory walk it beside the VM list).
  {
    method: 'GET',
    path: '/nodes/{node}/lxc',
    params: { node: p.node },
    handler: ({ sim, params }) => {
      requireNode(sim, params.node!);
      return [];
    },
  },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu',
    params: {
      node: p.node,
      vmid: p.vmid,
      storage: p.str,
      pool: p.str,
      start: p.bool,
      archive: p.str,
      force: p.bool,
      unique: p.bool,
      'live-restore': p.bool,
      bwlimit: p.int,
      'import-working-storage': { type: 'string', optional: true, format: 'pve-storage-id' },
    },
    extraParams: configKeySpec,
    handler: createVm,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}',
    params: { node: p.node, vmid: p.vmid },
    handler: ({ sim, params, who }) => {
      const vm = loadVm(sim, params.node!, params.vmid!);
      requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Audit']);
      const subdirs = ['config', 'pending', 'status', 'snapshot', 'clone', 'template', 'agent', 'resize'];
      return subdirs.map((subdir) => ({ subdir }));
    },
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/qemu/{vmid}',
    params: { node: p.node, vmid: p.vmid, purge: p.bool, 'destroy-unreferenced-disks': p.bool, skiplock: p.bool },
    handler: destroyVm,
  },
];
