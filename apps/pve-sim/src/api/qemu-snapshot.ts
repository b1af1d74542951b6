/**
 * `/nodes/{node}/qemu/{vmid}/snapshot`: list, take, roll back and delete snapshots. A snapshot holds
 * the config and the guest's disk contents (`vm.guest`), and with `vmstate=1` on a running VM its
 * RAM: a rollback to it resumes the VM running with no boot; without RAM the VM is left stopped
 * (or cold-booted with `start=1`).
 */
import { ApiError, fail } from '../errors';
import { vmLockPath, withLock } from '../locks';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { copyGuestDisk } from '../state/guest-disk';
import type { Vm, VmSnapshot } from '../state/types';
import { configDigest, typedConfig } from '../state/vm-config';
import type { TaskLog } from '../tasks';
import { p } from '../validate';
import { assertUnlocked, loadVm } from './vm-access';

function listSnapshots({ sim, params, who }: HandlerContext) {
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Audit']);
  const items: Array<Record<string, unknown>> = Object.values(vm.snapshots).map((snap) => {
    const item: Record<string, unknown> = {
      name: snap.name,
      snaptime: snap.snaptime,
      description: snap.description,
      vmstate: snap.vmstate ?? 0,
    };
    if (snap.parent) item.parent = snap.parent;
    return item;
  });
  const current: Record<string, unknown> = {
    name: 'current',
    digest: configDigest(vm.config),
    running: vm.status === 'running' ? 1 : 0,
    description: 'You are here!',
  };
  if (vm.parent) current.parent = vm.parent;
  return [...items, current];
}

/** Runs snapshot work as a task under the VM flock with `lock: <kind>` set meanwhile. */
function snapshotTask(ctx: HandlerContext, vm: Vm, type: string, kind: string, work: (log: TaskLog) => void) {
  const { sim, who } = ctx;
  return sim.tasks.start(vm.node, type, String(vm.vmid), who, (log) =>
    withLock(sim.locks, vmLockPath(vm.vmid), 'exclusive', sim.clock.ms('vmLockTimeout'), async () => {
      assertUnlocked(vm);
      vm.config.lock = kind;
      try {
        await sim.clock.sleep('smallTask', { taskWork: true });
        work(log);
      } finally {
        delete vm.config.lock;
      }
    }),
  );
}

function takeSnapshot(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Snapshot']);
  const name = params.snapname!;
  if (name === 'current' || name === 'pending') {
    throw new ApiError(400, 'Parameter verification failed.', {
      snapname: `unable to use snapshot name '${name}' (reserved name)`,
    });
  }
  return snapshotTask(ctx, vm, 'qmsnapshot', 'snapshot', () => {
    if (vm.snapshots[name]) fail(`snapshot name '${name}' already used`);
    if (vm.config.template === '1') fail("you can't take a snapshot if it's a template");
    const config = { ...vm.config };
    delete config.lock;
    const snap: VmSnapshot = {
      name,
      snaptime: Math.floor(Date.now() / 1000),
      description: params.description ?? '',
      config,
    };
    if (vm.parent) snap.parent = vm.parent;
    if (vm.guest) snap.guest = copyGuestDisk(vm.guest);
    // PVE saves RAM only for a running VM; on a stopped one `vmstate` is ignored.
    if (params.vmstate === '1' && vm.status === 'running') snap.vmstate = 1;
    vm.snapshots[name] = snap;
    vm.parent = name;
  });
}

function rollback(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Snapshot', 'VM.Snapshot.Rollback'], { any: true });
  const snap = vm.snapshots[params.snapname!];
  if (!snap) fail(`snapshot '${params.snapname}' does not exist`);
  return snapshotTask(ctx, vm, 'qmrollback', 'rollback', () => {
    if (vm.status === 'running') sim.powerOff(vm);
    vm.config = { ...snap.config, lock: 'rollback' };
    vm.parent = snap.name;
    if (snap.guest) vm.guest = copyGuestDisk(snap.guest);
    else delete vm.guest;
    if (snap.vmstate) sim.powerOn(vm, { resumed: true });
    else if (params.start === '1') sim.powerOn(vm);
  });
}

function deleteSnapshot(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Snapshot']);
  const snap = vm.snapshots[params.snapname!];
  if (!snap) fail(`snapshot '${params.snapname}' does not exist`);
  return snapshotTask(ctx, vm, 'qmdelsnapshot', 'snapshot-delete', () => {
    for (const other of Object.values(vm.snapshots)) if (other.parent === snap.name) other.parent = snap.parent;
    if (vm.parent === snap.name) vm.parent = snap.parent;
    delete vm.snapshots[snap.name];
  });
}

function snapshotConfig({ sim, params, who }: HandlerContext) {
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Audit']);
  const snap = vm.snapshots[params.snapname!];
  if (!snap) fail(`snapshot '${params.snapname}' does not exist`);
  return {
    ...typedConfig(snap.config),
    snaptime: snap.snaptime,
    description: snap.description,
    ...(snap.parent ? { parent: snap.parent } : {}),
  };
}

const snapname = { type: 'string', format: 'pve-configid', maxLength: 40 } as const;
const base = { node: p.node, vmid: p.vmid };

export const qemuSnapshotRoutes: Route[] = [
  { method: 'GET', path: '/nodes/{node}/qemu/{vmid}/snapshot', params: base, handler: listSnapshots },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/snapshot',
    params: { ...base, snapname, vmstate: p.bool, description: p.str },
    handler: takeSnapshot,
  },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback',
    params: { ...base, snapname, start: p.bool },
    handler: rollback,
  },
  {
    method: 'DELETE',
    path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}',
    params: { ...base, snapname, force: p.bool },
    handler: deleteSnapshot,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config',
    params: { ...base, snapname },
    handler: snapshotConfig,
  },
];
