/** `/nodes`, node status, storages and network of a node. */
import { ParameterError } from '../errors';
import { hasAnyPrivilege, requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { runningSdn } from '../sdn';
import { usedBytes } from '../storage';
import { p } from '../validate';
import { requireNode } from './vm-access';

const GiB = 1024 ** 3;

/** One `/nodes` item; stats only for callers with Sys.Audit on the node. */
export function nodeItem({ sim, who }: HandlerContext, node: string): Record<string, unknown> {
  const offline = sim.faults.nodeIsOffline(node);
  const item: Record<string, unknown> = {
    node,
    id: `node/${node}`,
    type: 'node',
    status: offline ? 'offline' : 'online',
    level: '',
    ssl_fingerprint: sim.tlsFingerprint,
  };
  if (offline || !hasAnyPrivilege(sim.state, who, `/nodes/${node}`, ['Sys.Audit'])) return item;
  const running = Object.values(sim.state.vms).filter((vm) => vm.node === node && vm.status === 'running').length;
  return {
    ...item,
    cpu: 0.0123 + running * 0.001,
    maxcpu: 16,
    mem: (2 + running) * GiB,
    maxmem: 128 * GiB,
    disk: 12 * GiB,
    maxdisk: 100 * GiB,
    uptime: Math.floor((Date.now() - sim.state.nodes[node]!.startedAt) / 1000) + 86400,
  };
}

function nodeStatus(ctx: HandlerContext) {
  const { sim, params, who } = ctx;
  requireNode(sim, params.node!);
  requirePrivileges(sim.state, who, `/nodes/${params.node}`, ['Sys.Audit']);
  const uptime = Math.floor((Date.now() - sim.state.nodes[params.node!]!.startedAt) / 1000) + 86400;
  return {
    uptime,
    idle: 0,
    wait: 0.0004,
    cpu: 0.0123,
    loadavg: ['0.16', '0.10', '0.02'],
    kversion: 'Linux 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4',
    'current-kernel': {
      sysname: 'Linux',
      release: '6.8.12-4-pve',
      version: '#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4',
      machine: 'x86_64',
    },
    'boot-info': { mode: 'efi', secureboot: 0 },
    cpuinfo: {
      cpus: 16,
      cores: 8,
      sockets: 1,
      model: 'Simulated CPU @ 3.00GHz',
      mhz: '3000.000',
      flags: 'fpu vme de pse',
      hvm: '1',
      user_hz: 100,
    },
    memory: { total: 128 * GiB, used: 4 * GiB, free: 124 * GiB },
    ksm: { shared: 0 },
    swap: { total: 8 * GiB, used: 0, free: 8 * GiB },
    pveversion: 'pve-manager/8.4.14/b502d23c55afcba1',
    rootfs: { total: 100 * GiB, avail: 88 * GiB, used: 12 * GiB, free: 88 * GiB },
  };
}

function nodeStorages({ sim, params, who }: HandlerContext) {
  requireNode(sim, params.node!);
  const all = Object.values(sim.state.storages).filter((s) => s.node === params.node);
  if (params.storage && !all.some((s) => s.storage === params.storage))
    throw new ParameterError({ storage: 'No such storage.' });
  return all
    .filter((s) => !params.storage || s.storage === params.storage)
    .filter((s) => !params.content || s.content.split(',').includes(params.content))
    .filter((s) =>
      hasAnyPrivilege(sim.state, who, `/storage/${s.storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace']),
    )
    .map((s) => {
      const used = usedBytes(s);
      return {
        storage: s.storage,
        type: s.type,
        content: s.content,
        shared: s.shared,
        active: 1,
        enabled: 1,
        total: s.totalBytes,
        used,
        avail: s.totalBytes - used,
        used_fraction: used / s.totalBytes,
      };
    });
}

function storageContent({ sim, params, who }: HandlerContext) {
  requireNode(sim, params.node!);
  const storage = sim.state.storages[`${params.node}/${params.storage}`];
  if (!storage) throw new ParameterError({ storage: 'No such storage.' });
  requirePrivileges(sim.state, who, `/storage/${storage.storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], {
    any: true,
  });
  return Object.entries(storage.volumes)
    .filter(([, v]) => !params.vmid || String(v.vmid) === params.vmid)
    .map(([name, v]) => ({
      volid: `${storage.storage}:${name}`,
      format: 'raw',
      content: 'images',
      size: v.sizeBytes,
      vmid: v.vmid,
      ctime: 0,
    }));
}

function nodeNetwork({ sim, params, who }: HandlerContext) {
  requireNode(sim, params.node!);
  const bridges = Object.values(sim.state.bridges)
    .filter((b) => b.node === params.node)
    .filter((b) => hasAnyPrivilege(sim.state, who, `/sdn/zones/localnetwork/${b.iface}`, ['SDN.Audit', 'SDN.Use']))
    .map((b, i) => ({
      iface: b.iface,
      type: 'bridge',
      method: 'static',
      method6: 'manual',
      address: b.address,
      netmask: b.netmask,
      cidr: `${b.address}/${b.netmask}`,
      gateway: b.gateway,
      bridge_ports: b.ports,
      bridge_stp: 'off',
      bridge_fd: '0',
      ...(b.vlanAware ? { bridge_vlan_aware: 1, bridge_vids: '2-4094' } : {}),
      autostart: 1,
      active: 1,
      priority: 10 + i,
      families: ['inet'],
    }));
  const wanted = params.type;
  if (!wanted || wanted === 'bridge' || wanted === 'any_bridge' || wanted === 'any_local_bridge') {
    if (wanted !== 'any_bridge') return bridges;
    const vnets = Object.values(runningSdn(sim.state).vnets)
      .filter((v) => hasAnyPrivilege(sim.state, who, `/sdn/zones/${v.zone}/${v.vnet}`, ['SDN.Audit', 'SDN.Use']))
      .map((v) => ({ iface: v.vnet, type: 'vnet', active: 1 }));
    return [...bridges, ...vnets];
  }
  return [];
}

export const nodeRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes',
    params: {},
    handler: (ctx) => Object.keys(ctx.sim.state.nodes).map((n) => nodeItem(ctx, n)),
  },
  {
    method: 'GET',
    path: '/nodes/{node}',
    params: { node: p.node },
    handler: ({ sim, params }) => {
      requireNode(sim, params.node!);
      return ['qemu', 'storage', 'network', 'tasks', 'status', 'version'].map((subdir) => ({ subdir }));
    },
  },
  { method: 'GET', path: '/nodes/{node}/status', params: { node: p.node }, handler: nodeStatus },
  {
    method: 'GET',
    path: '/nodes/{node}/version',
    params: { node: p.node },
    handler: () => ({ version: '8.4.14', release: '8.4', repoid: 'b502d23c55afcba1' }),
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage',
    params: { node: p.node, content: p.str, enabled: p.bool, format: p.bool, storage: p.str, target: p.str },
    handler: nodeStorages,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/storage/{storage}/content',
    params: { node: p.node, storage: p.reqStr, content: p.str, vmid: p.optVmid },
    handler: storageContent,
  },
  { method: 'GET', path: '/nodes/{node}/network', params: { node: p.node, type: p.str }, handler: nodeNetwork },
];
