/**
 * `/cluster/sdn`: zones, vnets and subnets edited as configuration and applied with `PUT
 * /cluster/sdn` (pve-network's API). Errors raised while pve-network holds its config lock come
 * back as one 500 prefixed with what failed (`create sdn vnet object failed: …`), parameter
 * errors included, because the lock helper re-raises them as text.
 */
import { fail } from '../errors';
import { hasAnyPrivilege, requirePrivileges } from '../permissions';
import type { HandlerContext, Route } from '../router';
import { applySdn, editedSdn, requireEditedZone } from '../sdn';
import type { SdnObjects, SdnVnet, SdnZone } from '../state/types';
import { type ParamSpec, type ParamSpecs, p } from '../validate';
import {
  checkDigest,
  checkVnetAccess,
  deleteOptions,
  LockedParamError,
  underSdnLock,
  viewOf,
  vnetId,
  withDigest,
} from './sdn-access';

// ---------------------------------------------------------------- zones

const zoneTypes = ['evpn', 'faucet', 'qinq', 'simple', 'vlan', 'vxlan'];

/** Options each zone type takes (pve-network's plugin `options`), required ones first. */
const zoneOptions: Record<string, { required: string[]; optional: string[] }> = {
  simple: { required: [], optional: ['nodes', 'mtu', 'dns', 'reversedns', 'dnszone', 'ipam', 'dhcp'] },
  vlan: {
    required: ['bridge'],
    optional: ['nodes', 'bridge-disable-mac-learning', 'mtu', 'dns', 'reversedns', 'dnszone', 'ipam'],
  },
  qinq: {
    required: ['tag', 'bridge'],
    optional: ['nodes', 'bridge-disable-mac-learning', 'mtu', 'vlan-protocol', 'dns', 'reversedns', 'dnszone', 'ipam'],
  },
  vxlan: { required: ['peers'], optional: ['nodes', 'vxlan-port', 'mtu', 'dns', 'reversedns', 'dnszone', 'ipam'] },
  evpn: {
    required: ['vrf-vxlan', 'controller'],
    optional: [
      'nodes',
      'exitnodes',
      'exitnodes-local-routing',
      'exitnodes-primary',
      'advertise-subnets',
      'disable-arp-nd-suppression',
      'bridge-disable-mac-learning',
      'rt-import',
      'vxlan-port',
      'mtu',
      'mac',
      'dns',
      'reversedns',
      'dnszone',
      'ipam',
    ],
  },
  faucet: { required: ['dp-id', 'controller'], optional: ['nodes', 'dns', 'reversedns', 'dnszone', 'ipam'] },
};

const zoneOptionSpecs: ParamSpecs = {
  'advertise-subnets': p.bool,
  bridge: p.str,
  'bridge-disable-mac-learning': p.bool,
  controller: p.str,
  dhcp: { type: 'string', optional: true, enum: ['dnsmasq'] },
  'disable-arp-nd-suppression': p.bool,
  dns: p.str,
  dnszone: { type: 'string', optional: true, format: 'dns-name' },
  'dp-id': p.int,
  exitnodes: { type: 'string', optional: true, format: 'pve-node-list' },
  'exitnodes-local-routing': p.bool,
  'exitnodes-primary': { type: 'string', optional: true, format: 'pve-node' },
  ipam: p.str,
  mac: { type: 'string', optional: true, pattern: /[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}/ },
  mtu: p.int,
  nodes: { type: 'string', optional: true, format: 'pve-node-list' },
  peers: { type: 'string', optional: true, format: 'ip-list' },
  reversedns: p.str,
  'rt-import': p.str,
  tag: { type: 'integer', optional: true, minimum: 0 },
  'vlan-protocol': { type: 'string', optional: true, enum: ['802.1q', '802.1ad'] },
  'vrf-vxlan': p.int,
  'vxlan-port': { type: 'integer', optional: true, minimum: 1, maximum: 65536 },
};

const numericOptions = new Set(
  Object.entries(zoneOptionSpecs)
    .filter(([, s]) => s.type !== 'string')
    .map(([k]) => k),
);

/** Section-config typing: integers and booleans are numbers, the rest text. */
function typedOptions(params: Record<string, string>, keys: string[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const key of keys)
    if (params[key] !== undefined) out[key] = numericOptions.has(key) ? Number(params[key]) : params[key]!;
  return out;
}

/** pve-common's check_config: every given option must belong to the type; on create, required ones present. */
function checkZoneOptions(type: string, params: Record<string, string>, create: boolean): string[] {
  const allowed = zoneOptions[type]!;
  const given = Object.keys(params).filter((key) => key in zoneOptionSpecs);
  for (const key of given) {
    if (!allowed.required.includes(key) && !allowed.optional.includes(key)) fail(`unexpected property '${key}'`);
  }
  if (create) {
    for (const key of allowed.required)
      if (params[key] === undefined) fail(`missing value for required option '${key}'`);
  }
  return given;
}

/** The zone-type hooks run on every create/update inside the lock. */
function zoneUpdateHook(zones: SdnObjects['zones'], id: string, params: Record<string, string>) {
  const zone = zones[id]!;
  if (zone.ipam && zone.ipam !== 'pve') throw new LockedParamError({ ipam: `${zone.ipam} not existing` });
  if (zone.dns) throw new LockedParamError({ dns: `${zone.dns} don't exist` });
  if (zone.reversedns) throw new LockedParamError({ reversedns: `${zone.reversedns} don't exist` });
  if (zone.dnszone && !zone.dns) throw new LockedParamError({ dnszone: 'missing dns server' });
  if (zone.type === 'evpn') {
    // No SDN controllers exist here, so an EVPN zone's controller never does either.
    throw new Error(
      `controller ${params.controller ?? zone.controller} don't exist at /usr/share/perl5/PVE/Network/SDN/Zones/EvpnPlugin.pm line 282.`,
    );
  }
}

function zoneItem(id: string, zone: Record<string, unknown>, digest: string | undefined) {
  return withDigest({ ...zone, zone: id }, digest);
}

function listZones({ sim, params, who }: HandlerContext) {
  const { objects, digest } = viewOf(sim.state, 'zones', params);
  return Object.keys(objects)
    .sort()
    .filter((id) => hasAnyPrivilege(sim.state, who, `/sdn/zones/${id}`, ['SDN.Audit', 'SDN.Allocate']))
    .map((id) => zoneItem(id, objects[id]!, digest))
    .filter((item) => !params.type || item.type === params.type);
}

function readZone({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, `/sdn/zones/${params.zone}`, ['SDN.Allocate']);
  const { objects, digest } = viewOf(sim.state, 'zones', params);
  const zone = objects[params.zone!];
  if (!zone) fail(`sdn '${params.zone}' does not exist`);
  return zoneItem(params.zone!, zone, digest);
}

function createZone({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, '/sdn/zones', ['SDN.Allocate']);
  const id = params.zone!;
  const keys = checkZoneOptions(params.type!, params, true);
  underSdnLock('create sdn zone object failed', () => {
    const zones = editedSdn(sim.state).zones;
    if (zones[id]) fail(`sdn zone object ID '${id}' already defined`);
    const zone: SdnZone = { type: params.type!, ...typedOptions(params, keys) };
    zones[id] = zone;
    try {
      zoneUpdateHook(zones, id, params);
    } catch (error) {
      delete zones[id];
      throw error;
    }
  });
  return null;
}

function updateZone({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, `/sdn/zones/${params.zone}`, ['SDN.Allocate']);
  const id = params.zone!;
  underSdnLock('update sdn zone object failed', () => {
    const state = sim.state;
    checkDigest(state, 'zones', params.digest);
    const zone = requireEditedZone(state, id);
    const keys = checkZoneOptions(zone.type, params, false);
    const next: SdnZone = { ...zone };
    deleteOptions(next, zoneOptions[zone.type]!, params);
    Object.assign(next, typedOptions(params, keys));
    const zones = editedSdn(state).zones;
    zones[id] = next;
    try {
      zoneUpdateHook(zones, id, params);
    } catch (error) {
      zones[id] = zone;
      throw error;
    }
  });
  return null;
}

function deleteZone({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, `/sdn/zones/${params.zone}`, ['SDN.Allocate']);
  underSdnLock('delete sdn zone object failed', () => {
    requireEditedZone(sim.state, params.zone!);
    const user = Object.values(editedSdn(sim.state).vnets).find((v) => v.zone === params.zone);
    if (user) {
      throw new Error(
        `zone ${params.zone} is used by vnet ${user.vnet} at /usr/share/perl5/PVE/Network/SDN/Zones/Plugin.pm line 138.`,
      );
    }
    delete editedSdn(sim.state).zones[params.zone!];
  });
  return null;
}

// ---------------------------------------------------------------- vnets

const vnetOptions = { required: ['zone'], optional: ['tag', 'alias', 'vlanaware', 'isolate-ports'] };

/** The zone type's vnet hook: tag rules per type (pve-network's vnet_update_hook). */
function vnetUpdateHook(objects: SdnObjects, id: string, sim: HandlerContext['sim']) {
  const vnet = objects.vnets[id]!;
  const zone = objects.zones[vnet.zone];
  if (!zone) fail("unknown section type ''");
  const tag = vnet.tag;
  const others = Object.values(objects.vnets).filter((other) => other.vnet !== id);
  if (zone.type === 'vlan') {
    if (tag === undefined) throw new LockedParamError({ tag: 'missing vlan tag' });
    if (tag > 4096) throw new LockedParamError({ tag: 'vlan tag max value is 4096' });
    const clash = others.find((other) => other.zone === vnet.zone && other.tag === tag);
    if (clash) throw new LockedParamError({ tag: `tag ${tag} already exist in vnet ${clash.vnet}` });
  } else if (zone.type === 'vxlan') {
    if (tag === undefined) throw new LockedParamError({ tag: 'missing vxlan tag' });
    if (tag > 16777216) throw new LockedParamError({ tag: 'vxlan tag max value is 16777216' });
    const clash = others.find(
      (other) => ['vxlan', 'evpn'].includes(objects.zones[other.zone]?.type ?? '') && other.tag === tag,
    );
    if (clash) {
      throw new LockedParamError({
        tag: `vxlan tag ${tag} already exist in vnet ${clash.vnet} in zone ${clash.zone} `,
      });
    }
  } else if (zone.type === 'qinq') {
    if (tag !== undefined && tag > 4096) throw new LockedParamError({ tag: 'VLAN tag maximal value is 4096' });
    const clash = others.find((other) => other.zone === vnet.zone && (tag ? other.tag === tag : !other.tag));
    if (clash && tag)
      throw new LockedParamError({ tag: `tag ${tag} already exist in zone ${vnet.zone} vnet ${clash.vnet}` });
    if (clash)
      throw new LockedParamError({ tag: `tag-less vnet already exists in zone ${vnet.zone} vnet ${clash.vnet}` });
  } else if (zone.type === 'simple') {
    if (tag !== undefined) throw new LockedParamError({ tag: 'vlan tag is not allowed on simple zone' });
    vnet.mac ??= sim.random.mac();
  }
  if (vnet.vlanaware && Object.values(objects.subnets).some((s) => s.vnet === id)) {
    throw new LockedParamError({ vlanaware: 'vlanaware vnet is not compatible with subnets' });
  }
}

function vnetOptionsOf(params: Record<string, string>): Partial<SdnVnet> {
  const out: Partial<SdnVnet> = {};
  if (params.zone !== undefined) out.zone = params.zone;
  if (params.tag !== undefined) out.tag = Number(params.tag);
  if (params.alias !== undefined) out.alias = params.alias;
  if (params.vlanaware !== undefined) out.vlanaware = params.vlanaware === '1' ? 1 : 0;
  if (params['isolate-ports'] !== undefined) out['isolate-ports'] = params['isolate-ports'] === '1' ? 1 : 0;
  return out;
}

function vnetItem(id: string, vnet: Record<string, unknown>, digest: string | undefined) {
  return withDigest({ type: 'vnet', ...vnet, vnet: id }, digest);
}

function listVnets({ sim, params, who }: HandlerContext) {
  const { objects, digest } = viewOf(sim.state, 'vnets', params);
  return Object.keys(objects)
    .sort()
    .filter((id) => {
      const item = objects[id]!;
      const zone = item.zone ?? (item.pending as { zone?: string } | undefined)?.zone;
      return hasAnyPrivilege(sim.state, who, `/sdn/zones/${zone}/${id}`, ['SDN.Audit', 'SDN.Allocate']);
    })
    .map((id) => vnetItem(id, objects[id]!, digest));
}

function readVnet(ctx: HandlerContext) {
  const { sim, params } = ctx;
  checkVnetAccess(ctx, params.vnet, ['SDN.Audit', 'SDN.Allocate']);
  const { objects, digest } = viewOf(sim.state, 'vnets', params);
  const vnet = objects[params.vnet!];
  if (!vnet) fail(`sdn vnet '${params.vnet}' does not exist`);
  return vnetItem(params.vnet!, vnet, digest);
}

function createVnet({ sim, params, who }: HandlerContext) {
  requirePrivileges(sim.state, who, `/sdn/zones/${params.zone}`, ['SDN.Allocate']);
  const id = params.vnet!;
  underSdnLock('create sdn vnet object failed', () => {
    const objects = editedSdn(sim.state);
    if (objects.vnets[id]) fail(`sdn vnet object ID '${id}' already defined`);
    objects.vnets[id] = { vnet: id, ...vnetOptionsOf(params) } as SdnVnet;
    try {
      vnetUpdateHook(objects, id, sim);
    } catch (error) {
      delete objects.vnets[id];
      throw error;
    }
  });
  return null;
}

function updateVnet(ctx: HandlerContext) {
  const { sim, params } = ctx;
  checkVnetAccess(ctx, params.vnet, ['SDN.Allocate']);
  const id = params.vnet!;
  underSdnLock('update sdn vnet object failed', () => {
    checkDigest(sim.state, 'vnets', params.digest);
    const objects = editedSdn(sim.state);
    const before = objects.vnets[id]!;
    const next: SdnVnet = { ...before };
    deleteOptions(next as unknown as Record<string, unknown>, vnetOptions, params);
    Object.assign(next, vnetOptionsOf(params));
    if (!next.zone) throw new LockedParamError({ zone: 'cannot delete zone' });
    if (next.zone !== before.zone && Object.values(objects.subnets).some((s) => s.vnet === id)) {
      throw new LockedParamError({ zone: "can't change zone if subnets exist" });
    }
    objects.vnets[id] = next;
    try {
      vnetUpdateHook(objects, id, sim);
    } catch (error) {
      objects.vnets[id] = before;
      throw error;
    }
  });
  return null;
}

function deleteVnet(ctx: HandlerContext) {
  const { sim, params } = ctx;
  checkVnetAccess(ctx, params.vnet, ['SDN.Allocate']);
  underSdnLock('delete sdn vnet object failed', () => {
    const objects = editedSdn(sim.state);
    if (Object.values(objects.subnets).some((s) => s.vnet === params.vnet)) {
      throw new LockedParamError({ vnet: "Can't delete vnet if subnets exists" });
    }
    delete objects.vnets[params.vnet!];
  });
  return null;
}

// ---------------------------------------------------------------- routes

const views = { pending: p.bool, running: p.bool };
const zoneId: ParamSpec = { type: 'string', format: 'pve-sdn-zone-id' };
const vnetFields: ParamSpecs = {
  // pve-network's own pattern, where `)-_` is a range (so `,`, `:`, `/`, `@` … pass too).
  alias: { type: 'string', optional: true, maxLength: 256, pattern: /[()-_.\w\d\s]{0,256}/i },
  'isolate-ports': p.bool,
  tag: p.int,
  vlanaware: p.bool,
};
const deleteList: ParamSpec = { type: 'string', optional: true, format: 'pve-configid-list', maxLength: 4096 };
const digest: ParamSpec = { type: 'string', optional: true, maxLength: 64 };

export const sdnRoutes: Route[] = [
  {
    method: 'GET',
    path: '/cluster/sdn',
    params: {},
    handler: ({ sim, who }) => {
      requirePrivileges(sim.state, who, '/sdn', ['SDN.Audit']);
      return ['vnets', 'zones', 'controllers', 'ipams', 'dns'].map((id) => ({ id }));
    },
  },
  {
    method: 'PUT',
    path: '/cluster/sdn',
    params: {},
    handler: ({ sim, who }) => {
      requirePrivileges(sim.state, who, '/sdn', ['SDN.Allocate']);
      return applySdn(sim, who);
    },
  },
  {
    method: 'GET',
    path: '/cluster/sdn/zones',
    params: { ...views, type: { type: 'string', optional: true, enum: zoneTypes } },
    handler: listZones,
  },
  {
    method: 'POST',
    path: '/cluster/sdn/zones',
    params: { ...zoneOptionSpecs, zone: zoneId, type: { type: 'string', enum: zoneTypes } },
    handler: createZone,
  },
  { method: 'GET', path: '/cluster/sdn/zones/{zone}', params: { ...views, zone: zoneId }, handler: readZone },
  {
    method: 'PUT',
    path: '/cluster/sdn/zones/{zone}',
    params: { ...zoneOptionSpecs, zone: zoneId, delete: deleteList, digest },
    handler: updateZone,
  },
  { method: 'DELETE', path: '/cluster/sdn/zones/{zone}', params: { zone: zoneId }, handler: deleteZone },
  { method: 'GET', path: '/cluster/sdn/vnets', params: views, handler: listVnets },
  {
    method: 'POST',
    path: '/cluster/sdn/vnets',
    params: { ...vnetFields, vnet: vnetId, zone: p.reqStr, type: { type: 'string', optional: true, enum: ['vnet'] } },
    handler: createVnet,
  },
  { method: 'GET', path: '/cluster/sdn/vnets/{vnet}', params: { ...views, vnet: vnetId }, handler: readVnet },
  {
    method: 'PUT',
    path: '/cluster/sdn/vnets/{vnet}',
    params: { ...vnetFields, vnet: vnetId, zone: p.str, delete: deleteList, digest },
    handler: updateVnet,
  },
  { method: 'DELETE', path: '/cluster/sdn/vnets/{vnet}', params: { vnet: vnetId }, handler: deleteVnet },
];
