/**
 * SDN the way pve-network keeps it: the API edits a configuration (`/etc/pve/sdn/*.cfg`), and
 * `PUT /cluster/sdn` commits it as the running configuration (a new version) and reloads every
 * node's network, which is when a node's vnets come into existence as bridges. Until then a VM
 * NIC naming the vnet fails at start because the bridge does not exist.
 */
import { createHash } from 'node:crypto';
import { fail } from './errors';
import type { Simulator } from './sim';
import type { ClusterState, SdnObjects } from './state/types';
import { netKeyPattern, parseNet } from './state/vm-config';
import type { Identity, TaskLog } from './tasks';

export type SdnKind = keyof SdnObjects;

type SdnObject = Record<string, unknown>;

/** The applied (running) objects. Zones of type `local` are the pseudo-zone of plain bridges, never configured. */
export function runningSdn(state: ClusterState): SdnObjects {
  for (const [id, zone] of Object.entries(state.sdn.zones)) if (zone.type === 'local') delete state.sdn.zones[id];
  state.sdn.subnets ??= {};
  return { zones: state.sdn.zones, vnets: state.sdn.vnets, subnets: state.sdn.subnets };
}

/** The configuration as edited; a state from before edits were kept starts from the applied one. */
export function editedSdn(state: ClusterState): SdnObjects {
  state.sdn.pending ??= structuredClone(runningSdn(state));
  return state.sdn.pending;
}

/** SHA-1 over one kind's edited objects: the `digest` PVE returns and `PUT … digest=` is checked against. */
export function sdnDigest(state: ClusterState, kind: SdnKind): string {
  const objects = editedSdn(state)[kind] as Record<string, SdnObject>;
  const text = Object.keys(objects)
    .sort()
    .map((id) => `${id}:${JSON.stringify(objects[id], Object.keys(objects[id]!).sort())}`)
    .join('\n');
  return createHash('sha1').update(text).digest('hex');
}

const encode = (value: unknown): string | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? [...value].sort().join(',') : String(value);

/**
 * pve-network's pending view of one kind: every object of either side, with the running values at
 * the top, changed or new values under `pending`, deleted keys as `pending.<key>: 'deleted'`, and
 * `state: new | changed | deleted` on objects that differ. `type` (and a subnet's `vnet`) always
 * show the edited value at the top.
 */
export function pendingObjects(state: ClusterState, kind: SdnKind): Record<string, SdnObject> {
  const running = runningSdn(state)[kind] as Record<string, SdnObject>;
  const edited = editedSdn(state)[kind] as Record<string, SdnObject>;
  const out: Record<string, SdnObject> = {};
  for (const id of Object.keys(running).sort()) {
    const before = running[id]!;
    const after = edited[id];
    const item: SdnObject = {};
    const pending: SdnObject = {};
    for (const key of Object.keys(before).sort()) {
      item[key] = before[key];
      if (!after) item.state = 'deleted';
      else if (after[key] === undefined) {
        pending[key] = 'deleted';
        item.state = 'changed';
      } else if (encode(after[key]) !== encode(before[key])) item.state = 'changed';
    }
    out[id] = { ...item, ...(item.state ? { pending } : {}) };
  }
  for (const id of Object.keys(edited).sort()) {
    const after = edited[id]!;
    const before = running[id];
    const item: SdnObject = out[id] ?? {};
    const pending = (item.pending as SdnObject | undefined) ?? {};
    for (const key of Object.keys(after).sort()) {
      const value = encode(after[key]);
      const was = encode(before?.[key]);
      if (key === 'type' || key === 'vnet') item[key] = after[key];
      else if (was === undefined || value !== was) pending[key] = after[key];
      if (!before) item.state = 'new';
      else if (was === undefined && value !== undefined) item.state = 'changed';
    }
    if (item.state || Object.keys(pending).length > 0) item.pending = pending;
    out[id] = item;
  }
  return out;
}

/** Whether the zone exists on the node (no `nodes` list means every node). */
export function zoneOnNode(zone: { nodes?: string | undefined }, node: string): boolean {
  return !zone.nodes || zone.nodes.split(/[,;\s]+/).includes(node);
}

/**
 * What a node's network reload builds from the running config: each vnet whose zone is on the
 * node, unless a VLAN zone's bridge is missing there (the reload then warns and skips it).
 */
function generateNode(sim: Simulator, node: string, log: TaskLog): void {
  const { zones, vnets } = runningSdn(sim.state);
  const built: string[] = [];
  for (const vnet of Object.values(vnets)) {
    const zone = zones[vnet.zone];
    if (!zone || !zoneOnNode(zone, node)) continue;
    if (zone.type === 'vlan' && zone.bridge && !sim.state.bridges[`${node}/${zone.bridge}`]) {
      log(`can't find bridge ${zone.bridge}`);
      continue;
    }
    built.push(vnet.vnet);
  }
  sim.state.sdn.generated ??= {};
  sim.state.sdn.generated[node] = { version: sim.state.sdn.version ?? 0, vnets: built.sort() };
}

/**
 * `PUT /cluster/sdn`: commits the edited config as the running one at once (as pve-network does
 * before forking), then a `reloadnetworkall` task reloads each node's network in turn.
 */
export function applySdn(sim: Simulator, who: Identity): string {
  const state = sim.state;
  const edited = structuredClone(editedSdn(state));
  state.sdn.zones = edited.zones;
  state.sdn.vnets = edited.vnets;
  state.sdn.subnets = edited.subnets;
  state.sdn.version = (state.sdn.version ?? 0) + 1;
  const nodes = Object.keys(state.nodes);
  return sim.tasks.start(nodes[0]!, 'reloadnetworkall', '', who, async (log) => {
    for (const node of nodes) {
      log(`${node}: reloading network config`);
      await sim.clock.sleep('smallTask', { taskWork: true });
      if (!sim.faults.nodeIsOffline(node)) generateNode(sim, node, log);
    }
  });
}

/** Status of an applied zone on a node, as pvestatd reports it: `pending` until the node has reloaded. */
export function zoneStatus(state: ClusterState, node: string): 'available' | 'pending' {
  return (state.sdn.generated?.[node]?.version ?? 0) >= (state.sdn.version ?? 0) ? 'available' : 'pending';
}

/**
 * What a VM start goes through when qemu-server plugs each NIC's tap device: the bridge (plain, or
 * a vnet the node's network reload built) must exist, and a VLAN tag on a vnet needs a VLAN-aware
 * vnet. A failure logs what pve-bridge and QEMU print and fails the start as PVE does.
 */
export function plugNics(sim: Simulator, node: string, vmid: number, config: Record<string, string>, log: TaskLog) {
  const generated = new Set(sim.state.sdn.generated?.[node]?.vnets ?? []);
  const nics = Object.keys(config)
    .filter((key) => netKeyPattern.test(key))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  for (const key of nics) {
    const net = parseNet(config[key]!);
    if (!net.bridge) continue;
    const vnet = runningSdn(sim.state).vnets[net.bridge];
    let problem: string | undefined;
    if (vnet && generated.has(net.bridge)) {
      if (net.tag && !vnet.vlanaware) problem = `vm vlans are not allowed on vnet ${net.bridge}`;
    } else if (!sim.state.bridges[`${node}/${net.bridge}`]) {
      problem = `bridge '${net.bridge}' does not exist`;
    }
    if (!problem) continue;
    log(problem);
    log(
      `kvm: -netdev type=tap,id=${key},ifname=tap${vmid}i${key.slice(3)},script=/var/lib/qemu-server/pve-bridge,` +
        'downscript=/var/lib/qemu-server/pve-bridgedown,vhost=on: ' +
        'network script /var/lib/qemu-server/pve-bridge failed with status 512',
    );
    fail('start failed: QEMU exited with code 1');
  }
}

/** 500 `sdn '<zone>' does not exist` (sic, pve-network's wording for zones). */
export function requireEditedZone(state: ClusterState, zone: string) {
  const found = editedSdn(state).zones[zone];
  if (!found) fail(`sdn '${zone}' does not exist`);
  return found;
}
