/** `/cluster/*` and `/version`: nextid, resources (with pvestatd's lag), cluster status, SDN vnets. */
import { fail, ParameterError } from '../errors';
import { hasAnyPrivilege, requirePrivileges, vmPrivilegeChecker } from '../permissions';
import type { HandlerContext, Route } from '../router';
import type { Vm } from '../state/types';
import { usedBytes } from '../storage';
import { p } from '../validate';
import { nodeItem } from './nodes';
import { vmListItem } from './vm-status';

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

function vmResource(ctx: HandlerContext, vm: Vm): Record<string, unknown> {
  const { sim } = ctx;
  const base = { id: `qemu/${vm.vmid}`, vmid: vm.vmid, node: vm.node, type: 'qemu' };
  const stats = sim.resourceStats.get(vm.vmid);
  if (sim.faults.nodeIsOffline(vm.node)) return { ...base, status: 'unknown' };
  if (!sim.resourcesAreLive && !stats) return { ...base, status: 'unknown' };
  const live = vmListItem(vm);
  const item: Record<string, unknown> = {
    ...base,
    name: live.name,
    status: sim.resourcesAreLive ? vm.status : stats!.status,
    template: sim.resourcesAreLive ? (vm.config.template === '1' ? 1 : 0) : stats!.template,
    maxcpu: live.cpus,
    cpu: live.cpu,
    maxmem: live.maxmem,
    mem: live.mem,
    maxdisk: live.maxdisk,
    disk: 0,
    netin: live.netin,
    netout: live.netout,
    diskread: 0,
    diskwrite: 0,
    uptime: live.uptime,
  };
  if (vm.config.lock) item.lock = vm.config.lock;
  if (vm.config.tags) item.tags = vm.config.tags;
  if (vm.pool) item.pool = vm.pool;
  return item;
}

function resources(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  const type = params.type;
  const out: unknown[] = [];
  if (!type || type === 'vm') {
    const mayAudit = vmPrivilegeChecker(sim.state, who, ['VM.Audit']);
    for (const vm of Object.values(sim.state.vms)) if (mayAudit(vm.vmid)) out.push(vmResource(ctx, vm));
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
  if (!type || type === 'sdn') {
    for (const node of Object.keys(sim.state.nodes)) {
      out.push({ id: `sdn/${node}/localnetwork`, sdn: 'localnetwork', node, type: 'sdn', status: 'ok' });
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
      ip: `192.168.100.${10 + i}`,
      level: '',
      local: i === 0 ? 1 : 0,
      online: ctx.sim.faults.nodeIsOffline(n.node) ? 0 : 1,
    })),
  ];
}

function listVnets({ sim, who }: HandlerContext) {
  return Object.values(sim.state.sdn.vnets)
    .filter((v) => hasAnyPrivilege(sim.state, who, `/sdn/zones/${v.zone}/${v.vnet}`, ['SDN.Audit', 'SDN.Allocate']))
    .map((v) => ({ ...v, type: 'vnet', digest: '0' }));
}

function createVnet({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, `/sdn/zones/${params.zone}`, ['SDN.Allocate']);
  if (sim.state.sdn.vnets[params.vnet!]) fail(`sdn vnet object ID '${params.vnet}' already defined`);
  if (!sim.state.sdn.zones[params.zone!]) throw new ParameterError({ zone: `zone '${params.zone}' does not exist` });
  sim.state.sdn.vnets[params.vnet!] = {
    vnet: params.vnet!,
    zone: params.zone!,
    ...(params.tag ? { tag: Number(params.tag) } : {}),
    ...(params.alias ? { alias: params.alias } : {}),
  };
  return null;
}

function deleteVnet({ sim, params, who }: HandlerContext) {
  const vnet = sim.state.sdn.vnets[params.vnet!];
  if (!vnet) fail(`sdn vnet object ID '${params.vnet}' does not exist`);
  requirePrivileges(sim.state, who, `/sdn/zones/${vnet.zone}`, ['SDN.Allocate']);
  delete sim.state.sdn.vnets[params.vnet!];
  return null;
}

function listZones({ sim }: HandlerContext) {
  return Object.entries(sim.state.sdn.zones).map(([zone, z]) => ({ zone, type: z.type, digest: '0' }));
}

function createZone({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, '/sdn/zones', ['SDN.Allocate']);
  if (sim.state.sdn.zones[params.zone!]) fail(`sdn zone object ID '${params.zone}' already defined`);
  sim.state.sdn.zones[params.zone!] = { type: params.type! };
  return null;
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
  { method: 'GET', path: '/cluster/sdn/vnets', params: { pending: p.bool, running: p.bool }, handler: listVnets },
  {
    method: 'POST',
    path: '/cluster/sdn/vnets',
    params: {
      vnet: p.reqStr,
      zone: p.reqStr,
      tag: { type: 'integer', optional: true, minimum: 1, maximum: 16777215 },
      alias: p.str,
      type: p.str,
      vlanaware: p.bool,
    },
    handler: createVnet,
  },
  { method: 'DELETE', path: '/cluster/sdn/vnets/{vnet}', params: { vnet: p.reqStr }, handler: deleteVnet },
  { method: 'GET', path: '/cluster/sdn/zones', params: { type: p.str }, handler: listZones },
  {
    method: 'POST',
    path: '/cluster/sdn/zones',
    params: {
      zone: p.reqStr,
      type: { type: 'string', enum: ['simple', 'vlan', 'qinq', 'vxlan', 'evpn'] },
      bridge: p.str,
      ipam: p.str,
    },
    handler: createZone,
  },
  {
    method: 'PUT',
    path: '/cluster/sdn',
    params: {},
    handler: ({ sim, who }) => {
      requirePrivileges(sim.state, who, '/sdn', ['SDN.Allocate']);
      return sim.tasks.start(Object.keys(sim.state.nodes)[0]!, 'reloadnetworkall', '', who, () =>
        sim.clock.sleep('smallTask'),
      );
    },
  },
];
