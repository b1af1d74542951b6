/** `/cluster/*` and `/version`: nextid, resources (with pvestatd's lag), cluster status. SDN is in sdn.ts. */
import { fail, ParameterError } from '../errors';
import { hasAnyPrivilege, vmPrivilegeChecker } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { runningSdn, zoneOnNode, zoneStatus } from '../sdn';
import { clusterAddress } from '../state/node-address';
import type { Vm } from '../state/types';
import { usedBytes } from '../storage';
import { p } from '../validate';
import { nodeItem } from './nodes';
import { KeptList, keptResourceRow, listKey } from './vm-rows';
import { uptimeOf, vmListItem } from './vm-status';

const idRange = { lower: 100, upper: 1_000_000 };

/** Lowest free id; reserves nothing, so concurrent callers get the same answer. */
function nextId({ sim, params }: HandlerContext) {
  if (params.vmid !== undefined) {
    if (sim.state.vms[params.vmid]) throw new ParameterError({ vmid: `VM ${params.vmid} already exists` });
    return params.vmid;
  }
  for (let id = idRange.lower; id < idRange.upper; id++) if (!sim.state.vms[id]) return String(id);
  fail(`unable to get any free VMID in range [${idRange.lower}, ${idRange.upper}]`);
}

/**
 * One VM row. Built as a single object literal: spreading a base object and adding a dozen keys
 * costs V8 about a hundred times more per object, which a 10,000-VM answer pays 10,000 times.
 */
function vmResource(ctx: HandlerContext, vm: Vm, live: boolean, now: number): Record<string, unknown> {
  const { sim } = ctx;
  const id = `qemu/${vm.vmid}`;
  const stats = sim.resourceStats.get(vm.vmid);
  if (sim.faults.nodeIsOffline(vm.node) || (!live && !stats)) {
    return { id, vmid: vm.vmid, node: vm.node, type: 'qemu', status: 'unknown' };
  }
  const item: Record<string, unknown> = vmRow(vm, id, live, stats, now);
  if (vm.config.lock) item.lock = vm.config.lock;
  if (vm.config.tags) item.tags = vm.config.tags;
  if (vm.pool) item.pool = vm.pool;
  return item;
}

function vmRow(
  vm: Vm,
  id: string,
  live: boolean,
  stats: { status: string; template: number } | undefined,
  now: number,
) {
  const item = vmListItem(vm, now);
  return {
    id,
    vmid: vm.vmid,
    node: vm.node,
    type: 'qemu',
    name: item.name,
    status: live ? vm.status : stats!.status,
    template: live ? (vm.config.template === '1' ? 1 : 0) : stats!.template,
    maxcpu: item.cpus,
    cpu: item.cpu,
    maxmem: item.maxmem,
    mem: item.mem,
    maxdisk: item.maxdisk,
    disk: 0,
    netin: item.netin,
    netout: item.netout,
    diskread: 0,
    diskwrite: 0,
    uptime: item.uptime,
  };
}

function resources(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  const type = params.type;
  const out: unknown[] = [];
  if (!type || type === 'vm') {
    const mayAudit = vmPrivilegeChecker(sim.state, who, ['VM.Audit']);
    const live = sim.resourcesAreLive;
    const now = Date.now();
    const build = (vm: Vm) => vmResource(ctx, vm, live, now);
    const list = new KeptList(sim.state, listKey('/cluster/resources?type=vm', who));
    for (const vm of Object.values(sim.state.vms)) {
      if (!mayAudit(vm)) continue;
      const stats = sim.resourceStats.get(vm.vmid);
      const offline = sim.faults.nodeIsOffline(vm.node);
      list.add(keptResourceRow(vm, now, live, stats, offline, build), uptimeOf(vm, now));
    }
    // Only VMs asked for: their rows as kept (see vm-rows.ts).
    if (type === 'vm') return list;
    out.push(...list.data());
  }
  if (!type || type === 'node') {
    for (const node of Object.keys(sim.state.nodes)) out.push({ ...nodeItem(ctx, node), 'cgroup-mode': 2 });
  }
  if (!type || type === 'storage') {
    for (const s of Object.values(sim.state.storages)) {
      if (!hasAnyPrivilege(sim.state, who, `/storage/${s.storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace']))
        continue;
      out.push({
        id: `storage/${s.node}/${s.storage}`,
        storage: s.storage,
        node: s.node,
        type: 'storage',
        plugintype: s.type,
        status: sim.faults.nodeIsOffline(s.node) ? 'unknown' : 'available',
        shared: s.shared,
        content: s.content,
        disk: usedBytes(s),
        maxdisk: s.totalBytes,
      });
    }
  }
  if (!type || type === 'sdn') out.push(...sdnResources(ctx));
  return out;
}

/**
 * SDN rows: the `localnetwork` pseudo-zone of plain bridges on every node, then each applied zone
 * on each node it spans, `available` once that node's network reload has built it.
 */
function sdnResources({ sim, who }: HandlerContext): unknown[] {
  const out: unknown[] = [];
  const nodes = Object.keys(sim.state.nodes);
  if (hasAnyPrivilege(sim.state, who, '/sdn/zones/localnetwork', ['SDN.Audit'])) {
    for (const node of nodes)
      out.push({ id: `sdn/${node}/localnetwork`, sdn: 'localnetwork', node, type: 'sdn', status: 'ok' });
  }
  const zones = runningSdn(sim.state).zones;
  for (const node of nodes) {
    for (const id of Object.keys(zones).sort()) {
      if (!zoneOnNode(zones[id]!, node) || !hasAnyPrivilege(sim.state, who, `/sdn/zones/${id}`, ['SDN.Audit']))
        continue;
      out.push({ id: `sdn/${node}/${id}`, sdn: id, node, type: 'sdn', status: zoneStatus(sim.state, node) });
    }
  }
  return out;
}

function clusterStatus(ctx: HandlerContext) {
  return [
    {
      id: 'cluster',
      name: 'glassdome-sim',
      type: 'cluster',
      nodes: Object.keys(ctx.sim.state.nodes).length,
      quorate: 1,
      version: 1,
    },
    ...Object.values(ctx.sim.state.nodes).map((n, i) => ({
      id: `node/${n.node}`,
      name: n.node,
      type: 'node',
      nodeid: i + 1,
      ip: clusterAddress(i),
      level: '',
      local: i === 0 ? 1 : 0,
      online: ctx.sim.faults.nodeIsOffline(n.node) ? 0 : 1,
    })),
  ];
}

export const clusterRoutes: Route[] = [
  {
    method: 'GET',
    path: '/version',
    params: {},
    handler: () => ({ version: '8.4.14', release: '8.4', repoid: 'b502d23c55afcba1' }),
  },
  { method: 'GET', path: '/cluster/nextid', params: { vmid: p.optVmid }, handler: nextId },
  {
    method: 'GET',
    path: '/cluster/resources',
    params: { type: { type: 'string', optional: true, enum: ['vm', 'storage', 'node', 'sdn'] } },
    handler: resources,
  },
  { method: 'GET', path: '/cluster/status', params: {}, handler: clusterStatus },
];
