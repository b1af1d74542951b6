/**
 * `POST …/clone` and `POST …/template`. A clone's worker starts after the POST has answered, takes
 * the source's shared flock and the new id's exclusive flock (1 s each), writes the temporary
 * `lock: clone` config, copies or links each disk under the storage lock, then writes the final
 * config — so the nextid window, `VM is locked (clone)` and storage lock timeouts all happen as on PVE.
 */

import { fail, ParameterError } from '../errors';
import { vmLockPath } from '../locks';
import { cloneVmFirewall, removeVmFirewall } from '../network/firewall-config';
import { leaseDhcp } from '../network/topology';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { Simulator } from '../sim';
import { guestDiskForClone } from '../state/guest-disk';
import type { Vm, VmConfig } from '../state/types';
import { disksOf, netKeyPattern } from '../state/vm-config';
import { allocateVolume, cloneVolume, convertToBase, freeVolumes, splitVolid } from '../storage';
import type { TaskLog } from '../tasks';
import { flag, p } from '../validate';
import { checkAllocate } from './qemu';
import { assertUnlocked, loadVm } from './vm-access';
import { checkBridgeAccess, withMac } from './vm-config-keys';

interface ClonePlan {
  source: Vm;
  newid: number;
  full: boolean;
  storage?: string;
  name: string;
  pool?: string;
  description?: string;
  /** Clone the VM as it was at this snapshot (its disk contents). */
  snapname?: string;
}

function checkClone(ctx: HandlerContext): ClonePlan {
  const { sim, params, who } = ctx;
  const source = loadVm(sim, params.node!, params.vmid!);
  const newid = Number(params.newid);
  requirePrivileges(sim.state, who, `/vms/${source.vmid}`, ['VM.Clone']);
  checkAllocate(ctx, newid, params.pool);
  const isTemplate = source.config.template === '1';
  const full = flag(params.full, !isTemplate);
  if (!full && params.storage)
    throw new ParameterError({ storage: "parameter 'storage' not allowed for linked clones" });
  if (!full && params.format) throw new ParameterError({ format: "parameter 'format' not allowed for linked clones" });
  if (params.target && params.target !== source.node) {
    if (!sim.state.nodes[params.target]) fail(`no such cluster node '${params.target}'`);
    fail(`can't clone VM to node '${params.target}' (VM uses local storage)`);
  }
  assertUnlocked(source);
  if (params.snapname && !source.snapshots[params.snapname]) fail(`snapshot '${params.snapname}' does not exist`);
  const existing = sim.state.vms[newid];
  if (existing?.node === source.node) fail(`unable to create VM ${newid}: config file already exists`);
  const disks = disksOf(source.config).filter((d) => !d.cloudinit);
  if (!full && !isTemplate && disks[0])
    fail(`Linked clone feature is not supported for '${disks[0].volid}' (${disks[0].key})`);
  const storages = new Set(disks.map((d) => (full && params.storage ? params.storage : splitVolid(d.volid).storage)));
  for (const storage of storages) requirePrivileges(sim.state, who, `/storage/${storage}`, ['Datastore.AllocateSpace']);
  for (const key of Object.keys(source.config).filter((k) => netKeyPattern.test(k))) {
    checkBridgeAccess(sim, who, source.config[key]!);
  }
  const plan: ClonePlan = {
    source,
    newid,
    full,
    name: params.name ?? `Copy-of-VM-${source.config.name ?? source.vmid}`,
  };
  if (params.storage) plan.storage = params.storage;
  if (params.pool) plan.pool = params.pool;
  if (params.description) plan.description = params.description;
  if (params.snapname) plan.snapname = params.snapname;
  return plan;
}

/** The new VM's config: the source's, minus template/lock/snapshot state, with new identities. */
function clonedConfig(sim: Simulator, plan: ClonePlan, volumes: Record<string, string>): VmConfig {
  const config: VmConfig = { ...plan.source.config };
  for (const key of ['template', 'lock', 'parent', 'snapstate', 'vmstate']) delete config[key];
  for (const key of Object.keys(config)) if (/^unused\d+$/.test(key)) delete config[key];
  Object.assign(config, volumes);
  for (const key of Object.keys(config).filter((k) => netKeyPattern.test(k))) {
    config[key] = withMac(sim, config[key]!.replace(/^(\w+)=[0-9A-Fa-f:]{17}/, '$1'));
  }
  config.name = plan.name;
  config.smbios1 = `uuid=${sim.random.uuid()}`;
  config.vmgenid = sim.random.uuid();
  if (plan.description) config.description = plan.description;
  return config;
}

async function copyDisks(sim: Simulator, plan: ClonePlan, log: TaskLog): Promise<Record<string, string>> {
  const volumes: Record<string, string> = {};
  for (const disk of disksOf(plan.source.config)) {
    const rest = plan.source.config[disk.key]!.split(',').slice(1).join(',');
    if (disk.cloudinit) {
      log(`create full clone of drive ${disk.key} (${disk.volid})`);
      const volid = await allocateVolume(
        sim,
        plan.source.node,
        splitVolid(disk.volid).storage,
        plan.newid,
        4 * 1024 ** 2,
        'cloudinit',
      );
      log(`  Logical volume "${splitVolid(volid).name}" created.`);
      volumes[disk.key] = `${volid},media=cdrom,size=4M`;
      continue;
    }
    log(`create ${plan.full ? 'full' : 'linked'} clone of drive ${disk.key} (${disk.volid})`);
    const volid = await cloneVolume(
      sim,
      plan.source.node,
      disk.volid,
      plan.newid,
      plan.full ? 'full' : 'linked',
      plan.storage,
    );
    if (!plan.full) await sim.clock.sleep('linkedClone', { taskWork: true });
    log(`  Logical volume "${splitVolid(volid).name}" created.`);
    volumes[disk.key] = rest ? `${volid},${rest.replace(/media=cdrom,?/, '')}`.replace(/,$/, '') : volid;
  }
  return volumes;
}

/** The clone's disk holds what the source's held (now, or at `snapname`); its guest makes its own host key. */
function inheritGuestDisk(plan: ClonePlan, target: Vm): void {
  const disk = plan.snapname ? plan.source.snapshots[plan.snapname]?.guest : plan.source.guest;
  if (disk) target.guest = guestDiskForClone(disk);
  if (plan.source.importedFrom) target.importedFrom = plan.source.importedFrom;
}

async function cloneWorker(ctx: HandlerContext, plan: ClonePlan, log: TaskLog): Promise<void> {
  const { sim } = ctx;
  const lockTimeout = sim.clock.ms('cloneLockTimeout');
  await sim.clock.sleep('cloneWorkerStart');
  const releaseSource = await sim.locks.acquire(
    vmLockPath(plan.source.vmid),
    plan.source.status === 'running' ? 'exclusive' : 'shared',
    lockTimeout,
  );
  try {
    const releaseTarget = await sim.locks.acquire(vmLockPath(plan.newid), 'exclusive', lockTimeout);
    try {
      assertUnlocked(plan.source);
      // PVE's worker checks again for a config of that id on its own node, then writes the new VM's
      // temporary config, which pmxcfs refuses when the id is any other node's guest. These errors,
      // and a lock timeout, end the task as they are: PVE words only a failure after the temporary
      // config as `clone failed: …`, and undoes that much.
      const taken = sim.state.vms[plan.newid];
      if (taken?.node === plan.source.node) fail(`unable to create VM ${plan.newid}: config file already exists`);
      if (taken) {
        fail(
          `close (rename) atomic file '/etc/pve/nodes/${plan.source.node}/qemu-server/${plan.newid}.conf' failed: File exists`,
        );
      }
      const target: Vm = {
        vmid: plan.newid,
        node: plan.source.node,
        status: 'stopped',
        config: { lock: 'clone' },
        snapshots: {},
      };
      sim.state.vms[plan.newid] = target;
      leaseDhcp(sim.state.vms, [target], sim.options.guestSubnet);
      cloneVmFirewall(sim.state, plan.source.vmid, plan.newid);
      try {
        const volumes = await copyDisks(sim, plan, log);
        target.config = clonedConfig(sim, plan, volumes);
        inheritGuestDisk(plan, target);
        if (plan.pool) {
          target.pool = plan.pool;
          sim.state.pools[plan.pool]?.vmids.push(plan.newid);
        }
      } catch (error) {
        await freeVolumes(sim, target).catch(() => undefined);
        removeVmFirewall(sim.state, plan.newid);
        if (sim.state.vms[plan.newid] === target) delete sim.state.vms[plan.newid];
        throw new Error(`clone failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    } finally {
      releaseTarget();
    }
  } finally {
    releaseSource();
  }
}

function cloneVm(ctx: HandlerContext) {
  const plan = checkClone(ctx);
  return ctx.sim.tasks.start(plan.source.node, 'qmclone', String(plan.source.vmid), ctx.who, (log) =>
    cloneWorker(ctx, plan, log),
  );
}

function makeTemplate({ sim, params, who }: HandlerContext) {
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Allocate']);
  assertUnlocked(vm);
  if (Object.keys(vm.snapshots).length > 0) fail('unable to create template, because VM contains snapshots');
  if (vm.config.template === '1') fail("you can't convert a template to a template");
  if (vm.status === 'running') fail("you can't convert a VM to template if VM is running");
  return sim.tasks.start(vm.node, 'qmtemplate', String(vm.vmid), who, async (log) => {
    const release = await sim.locks.acquire(vmLockPath(vm.vmid), 'exclusive', sim.clock.ms('vmLockTimeout'));
    try {
      assertUnlocked(vm);
      await sim.clock.sleep('smallTask', { taskWork: true });
      vm.config.template = '1';
      await convertToBase(sim, vm, log);
    } finally {
      release();
    }
  });
}

export const qemuCloneRoutes: Route[] = [
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/clone',
    params: {
      node: p.node,
      vmid: p.vmid,
      newid: p.vmid,
      name: { type: 'string', optional: true, format: 'dns-name' },
      description: p.str,
      pool: p.str,
      snapname: p.str,
      storage: p.str,
      format: { type: 'string', optional: true, enum: ['raw', 'qcow2', 'vmdk'] },
      full: p.bool,
      target: p.str,
      bwlimit: p.int,
    },
    handler: cloneVm,
  },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/template',
    params: { node: p.node, vmid: p.vmid, disk: p.str },
    handler: makeTemplate,
  },
];
