/** `/pools`: resource pools that group VMs (and storages) for permissions. */
import { ApiError, fail } from '../errors';
import { hasAnyPrivilege, requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { p } from '../validate';
import { vmListItem } from './vm-status';

const poolid = { type: 'string', format: 'pve-poolid' } as const;

function requirePool({ sim }: HandlerContext, id: string) {
  const pool = sim.state.pools[id];
  if (!pool) fail(`pool '${id}' does not exist`);
  return pool;
}

function updatePool(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  requirePrivileges(sim.state, who, `/pool/${params.poolid}`, ['Pool.Allocate']);
  const pool = requirePool(ctx, params.poolid!);
  if (params.comment !== undefined) pool.comment = params.comment;
  const vmids = (params.vms ?? '')
    .split(/[,\s]+/)
    .filter(Boolean)
    .map(Number);
  for (const vmid of vmids) {
    const vm = sim.state.vms[vmid];
    if (!vm) fail(`VM ${vmid} does not exist`);
    if (params.delete === '1') {
      pool.vmids = pool.vmids.filter((id) => id !== vmid);
      delete vm.pool;
    } else {
      if (vm.pool && vm.pool !== params.poolid) fail(`VM ${vmid} belongs already to pool '${vm.pool}'`);
      if (!pool.vmids.includes(vmid)) pool.vmids.push(vmid);
      vm.pool = params.poolid!;
    }
  }
  return null;
}

export const poolRoutes: Route[] = [
  {
    method: 'GET',
    path: '/pools',
    params: { poolid: p.str, type: p.str },
    handler: ({ sim, who }) =>
      Object.entries(sim.state.pools)
        .filter(([id]) => hasAnyPrivilege(sim.state, who, `/pool/${id}`, ['Pool.Audit', 'Pool.Allocate']))
        .map(([id, pool]) => ({ poolid: id, ...(pool.comment ? { comment: pool.comment } : {}) })),
  },
  {
    method: 'POST',
    path: '/pools',
    params: { poolid, comment: p.str },
    handler: ({ sim, params, who }) => {
      requirePrivileges(sim.state, who, `/pool/${params.poolid}`, ['Pool.Allocate']);
      if (sim.state.pools[params.poolid!]) fail(`create pool failed: pool '${params.poolid}' already exists`);
      sim.state.pools[params.poolid!] = {
        vmids: [],
        storages: [],
        ...(params.comment ? { comment: params.comment } : {}),
      };
      return null;
    },
  },
  {
    method: 'GET',
    path: '/pools/{poolid}',
    params: { poolid, type: p.str },
    handler: (ctx) => {
      const pool = requirePool(ctx, ctx.params.poolid!);
      requirePrivileges(ctx.sim.state, ctx.who, `/pool/${ctx.params.poolid}`, ['Pool.Audit']);
      const members = pool.vmids.flatMap((id) => {
        const vm = ctx.sim.state.vms[id];
        // Added to the item, not spread into a new object (far cheaper for V8, same keys in the same order).
        return vm ? [Object.assign(vmListItem(vm), { id: `qemu/${id}`, node: vm.node, type: 'qemu' })] : [];
      });
      return { members, ...(pool.comment ? { comment: pool.comment } : {}) };
    },
  },
  {
    method: 'PUT',
    path: '/pools/{poolid}',
    params: { poolid, comment: p.str, vms: p.str, storage: p.str, delete: p.bool, 'allow-move': p.bool },
    handler: updatePool,
  },
  {
    method: 'DELETE',
    path: '/pools/{poolid}',
    params: { poolid },
    handler: (ctx) => {
      requirePrivileges(ctx.sim.state, ctx.who, `/pool/${ctx.params.poolid}`, ['Pool.Allocate']);
      const pool = requirePool(ctx, ctx.params.poolid!);
      if (pool.vmids.length > 0)
        throw new ApiError(500, `delete pool failed: pool '${ctx.params.poolid}' is not empty`);
      delete ctx.sim.state.pools[ctx.params.poolid!];
      return null;
    },
  },
];
