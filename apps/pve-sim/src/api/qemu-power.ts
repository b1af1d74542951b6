/** `/nodes/{node}/qemu/{vmid}/status/*`: current status and the power actions, each a task. */
import { fail } from '../errors';
import { vmLockPath, withLock } from '../locks';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { plugNics } from '../sdn';
import type { Simulator } from '../sim';
import type { Vm } from '../state/types';
import { disksOf } from '../state/vm-config';
import type { TaskLog } from '../tasks';
import { type ParamSpecs, p } from '../validate';
import { assertUnlocked, checkSkiplock, loadVm } from './vm-access';
import { vmCurrentStatus } from './vm-status';

function currentStatus({ sim, params, who }: HandlerContext) {
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Audit']);
  return vmCurrentStatus(vm);
}

type PowerWork = (sim: Simulator, vm: Vm, log: TaskLog) => Promise<void>;

const start: PowerWork = async (sim, vm, log) => {
  if (vm.config.template === '1') fail("you can't start a vm if it's a template");
  if (vm.status === 'running') fail(`VM ${vm.vmid} already running`);
  if (disksOf(vm.config).some((d) => d.cloudinit)) log('generating cloud-init ISO');
  await sim.clock.sleep('smallTask', { taskWork: true });
  plugNics(sim, vm.node, vm.vmid, vm.config, log);
  sim.powerOn(vm);
};

const stop: PowerWork = async (sim, vm) => {
  if (vm.status !== 'running') return;
  await sim.clock.sleep('stop', { taskWork: true });
  sim.powerOff(vm);
};

const shutdown: PowerWork = async (sim, vm) => {
  if (vm.status !== 'running') return;
  await sim.clock.sleep('shutdown', { taskWork: true });
  sim.powerOff(vm);
};

const reboot: PowerWork = async (sim, vm) => {
  if (vm.status !== 'running') fail(`VM ${vm.vmid} not running`);
  await sim.clock.sleep('shutdown', { taskWork: true });
  sim.powerOff(vm);
  sim.powerOn(vm);
};

const reset: PowerWork = async (sim, vm) => {
  if (vm.status !== 'running') fail(`VM ${vm.vmid} not running`);
  sim.powerOff(vm);
  sim.powerOn(vm);
};

const actions: Record<string, { type: string; work: PowerWork; syncRunningCheck?: boolean }> = {
  start: { type: 'qmstart', work: start },
  stop: { type: 'qmstop', work: stop },
  shutdown: { type: 'qmshutdown', work: shutdown },
  reboot: { type: 'qmreboot', work: reboot, syncRunningCheck: true },
  reset: { type: 'qmreset', work: reset },
};

function powerAction(name: string) {
  const action = actions[name]!;
  return ({ sim, params, who }: HandlerContext) => {
    const vm = loadVm(sim, params.node!, params.vmid!);
    requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.PowerMgmt']);
    const skiplock = checkSkiplock(params.skiplock, who.userid, who.tokenid);
    if (action.syncRunningCheck && vm.status !== 'running') fail(`VM ${vm.vmid} not running`);
    return sim.tasks.start(vm.node, action.type, String(vm.vmid), who, (log) =>
      withLock(sim.locks, vmLockPath(vm.vmid), 'exclusive', sim.clock.ms('vmLockTimeout'), async () => {
        if (sim.state.vms[vm.vmid] !== vm)
          fail(`Configuration file 'nodes/${vm.node}/qemu-server/${vm.vmid}.conf' does not exist`);
        assertUnlocked(vm, skiplock);
        await action.work(sim, vm, log);
      }),
    );
  };
}

const timeout = { type: 'integer', optional: true, minimum: 0 } as const;
const vm = { node: p.node, vmid: p.vmid };

/** Each action's parameters as qemu-server 8 declares them (anything else is refused). */
const powerParams: Record<string, ParamSpecs> = {
  start: {
    ...vm,
    skiplock: p.bool,
    timeout,
    machine: p.str,
    'force-cpu': p.str,
    migratedfrom: { type: 'string', optional: true, format: 'pve-node' },
    migration_network: p.str,
    migration_type: { type: 'string', optional: true, enum: ['secure', 'insecure'] },
    'nets-host-mtu': p.str,
    stateuri: { type: 'string', optional: true, maxLength: 128 },
    targetstorage: p.str,
  },
  stop: {
    ...vm,
    skiplock: p.bool,
    timeout,
    keepActive: p.bool,
    'overrule-shutdown': p.bool,
    migratedfrom: { type: 'string', optional: true, format: 'pve-node' },
  },
  shutdown: { ...vm, skiplock: p.bool, timeout, forceStop: p.bool, keepActive: p.bool },
  reboot: { ...vm, timeout },
  reset: { ...vm, skiplock: p.bool },
};

export const qemuPowerRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/status/current',
    params: { node: p.node, vmid: p.vmid },
    handler: currentStatus,
  },
  ...Object.keys(actions).map(
    (name): Route => ({
      method: 'POST',
      path: `/nodes/{node}/qemu/{vmid}/status/${name}`,
      params: powerParams[name]!,
      handler: powerAction(name),
    }),
  ),
];
