/** `/nodes/{node}/qemu/{vmid}/config` and `/pending` (resize is in qemu-resize.ts). */
import { fail, ParameterError } from '../errors';
import { vmLockPath, withLock } from '../locks';
import { requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { Vm } from '../state/types';
import { configDigest, typedConfig } from '../state/vm-config';
import { p } from '../validate';
import { assertUnlocked, checkSkiplock, loadVm } from './vm-access';
import { applyConfigChange, checkConfigPermissions, configKeySpec } from './vm-config-keys';

function getConfig({ sim, params, who }: HandlerContext) {
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Audit']);
  if (params.snapshot !== undefined) {
    if (params.current !== undefined) {
      throw new ParameterError({
        current: "'current' and 'snapshot' are mutually exclusive",
        snapshot: "'current' and 'snapshot' are mutually exclusive",
      });
    }
    const snap = vm.snapshots[params.snapshot];
    if (!snap) fail(`snapshot '${params.snapshot}' does not exist`);
    return { ...typedConfig(snap.config), digest: configDigest(vm.config) };
  }
  return { ...typedConfig(vm.config), digest: configDigest(vm.config) };
}

const updateOnly = new Set([
  'node',
  'vmid',
  'delete',
  'revert',
  'digest',
  'skiplock',
  'force',
  'background_delay',
  'import-working-storage',
]);

/** Validates an update and returns a function that applies it under the VM's flock. */
function prepareUpdate(ctx: HandlerContext): { vm: Vm; apply: (log: (line: string) => void) => Promise<void> } {
  const { sim, params, who } = ctx;
  const vm = loadVm(sim, params.node!, params.vmid!);
  const skiplock = checkSkiplock(params.skiplock, who.userid, who.tokenid);
  const values = Object.fromEntries(Object.entries(params).filter(([key]) => !updateOnly.has(key)));
  const deletes = (params.delete ?? '')
    .split(/[,;\s\0]+/)
    .filter(Boolean)
    .map((key) => (key === 'cdrom' ? 'ide2' : key));
  const conflicts: Record<string, string> = {};
  for (const key of deletes) {
    if (!configKeySpec(key)) conflicts.delete = `unknown option '${key}'`;
    if (values[key] !== undefined) conflicts[key] = `you can't use '-${key}' and -delete ${key}' at the same time`;
  }
  if (Object.keys(conflicts).length > 0) throw new ParameterError(conflicts);
  if (Object.keys(values).length === 0 && deletes.length === 0 && params.revert === undefined)
    fail('no options specified');
  checkConfigPermissions(sim, who, vm, [...Object.keys(values), ...deletes], values);
  const apply = (log: (line: string) => void) =>
    withLock(sim.locks, vmLockPath(vm.vmid), 'exclusive', sim.clock.ms('vmLockTimeout'), async () => {
      if (sim.state.vms[vm.vmid] !== vm)
        fail(`Configuration file 'nodes/${vm.node}/qemu-server/${vm.vmid}.conf' does not exist`);
      if (params.digest && params.digest !== configDigest(vm.config))
        fail('checksum mismatch (file change by other user?)');
      assertUnlocked(vm, skiplock);
      await applyConfigChange(sim, vm, values, deletes, log);
    });
  return { vm, apply };
}

/** PUT: synchronous, answers null once written. */
async function putConfig(ctx: HandlerContext) {
  const { apply } = prepareUpdate(ctx);
  await apply(() => undefined);
  return null;
}

/** POST: a `qmconfig` task; with `background_delay` waits that long and answers null if it finished OK. */
async function postConfig(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  const { vm, apply } = prepareUpdate(ctx);
  const upid = sim.tasks.start(vm.node, 'qmconfig', String(vm.vmid), who, async (log) => {
    await sim.clock.sleep('smallTask', { taskWork: true });
    await apply(log);
  });
  if (!params.background_delay) return upid;
  const waited = await Promise.race([
    sim.tasks.wait(upid),
    sim.clock.delay(Number(params.background_delay) * 1000 * sim.clock.timeScale).then(() => undefined),
  ]);
  if (waited?.status !== 'stopped') return upid;
  if (waited.exitstatus !== 'OK') fail(`failed to update VM ${vm.vmid}: ${waited.exitstatus}`);
  return null;
}

function getPending({ sim, params, who }: HandlerContext) {
  const vm = loadVm(sim, params.node!, params.vmid!);
  requirePrivileges(sim.state, who, `/vms/${vm.vmid}`, ['VM.Audit']);
  return Object.entries(typedConfig(vm.config)).map(([key, value]) => ({ key, value }));
}

const updateParams = {
  node: p.node,
  vmid: p.vmid,
  delete: p.str,
  revert: p.str,
  digest: { ...p.str, maxLength: 64 },
  skiplock: p.bool,
  force: p.bool,
};

export const qemuConfigRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/config',
    params: { node: p.node, vmid: p.vmid, current: p.bool, snapshot: p.str },
    handler: getConfig,
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/qemu/{vmid}/config',
    params: updateParams,
    extraParams: configKeySpec,
    handler: putConfig,
  },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/config',
    params: {
      ...updateParams,
      background_delay: { type: 'integer', optional: true, minimum: 1, maximum: 30 },
      'import-working-storage': { type: 'string', optional: true, format: 'pve-storage-id' },
    },
    extraParams: configKeySpec,
    handler: postConfig,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/pending',
    params: { node: p.node, vmid: p.vmid },
    handler: getPending,
  },
];
