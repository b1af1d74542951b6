/**
 * `/cluster/sdn/vnets/{vnet}/subnets`: a subnet is created from a CIDR and named
 * `<zone>-<network>-<prefix>`; its gateway must lie inside it. Glassdome itself addresses lab
 * guests statically and needs none, but the API is there for tools that do.
 */
import { fail, ParameterError } from '../errors';
import type { HandlerContext, Route } from '../router';
import { editedSdn } from '../sdn';
import type { SdnObjects, SdnSubnet } from '../state/types';
import { type ParamSpec, type ParamSpecs, p } from '../validate';
import {
  checkDigest,
  checkVnetAccess,
  deleteOptions,
  LockedParamError,
  underSdnLock,
  viewOf,
  vnetId,
} from './sdn-access';

const subnetOptions = {
  required: ['vnet'],
  optional: ['gateway', 'snat', 'dnszoneprefix', 'dhcp-range', 'dhcp-dns-server'],
};

/** The parts PVE derives from a subnet id: `gdlab-10.10.1.0-24` → zone, network, mask, cidr. */
function subnetParts(id: string) {
  const [zone, network, mask] = id.split('-') as [string, string, string];
  return { zone, network, mask, cidr: `${network}/${mask}` };
}

const ipv4ToInt = (ip: string) => ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);

/** Whether an IPv4 address lies in an IPv4 CIDR (IPv6 subnets are not checked). */
function inSubnet(ip: string, cidr: string): boolean {
  const [network, bits] = cidr.split('/') as [string, string];
  if (!ip.includes('.') || !network.includes('.')) return true;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4ToInt(ip) / size) === Math.floor(ipv4ToInt(network) / size);
}

/** `start-address=…,end-address=…` strings as objects. */
function parseRanges(ranges: string[] | undefined): Array<Record<string, string>> {
  return (ranges ?? []).map((range) =>
    Object.fromEntries(range.split(',').map((part) => part.split('=', 2) as [string, string])),
  );
}

/** The subnet plugin's update hook: the vnet exists and is not VLAN-aware, gateway and ranges inside the subnet. */
function subnetUpdateHook(objects: SdnObjects, id: string) {
  const subnet = objects.subnets[id]!;
  const { cidr, mask } = subnetParts(id);
  const vnet = objects.vnets[subnet.vnet];
  if (!vnet) throw new LockedParamError({ vnet: `${subnet.vnet} don't exist` });
  if (vnet.vlanaware) throw new LockedParamError({ vnet: "you can't add a subnet on a vlanaware vnet" });
  const pointToPoint = subnet.gateway?.includes('.') && mask === '32';
  if (subnet.gateway && !pointToPoint && !inSubnet(subnet.gateway, cidr)) {
    throw new LockedParamError({ gateway: `${subnet.gateway} is not in subnet ${cidr}` });
  }
  for (const range of parseRanges(subnet['dhcp-range'])) {
    const start = range['start-address'] ?? '';
    const end = range['end-address'] ?? '';
    if (!inSubnet(start, cidr))
      throw new LockedParamError({ 'dhcp-range': `start-address ${start} is not in subnet ${cidr}` });
    if (!inSubnet(end, cidr))
      throw new LockedParamError({ 'dhcp-range': `end-address ${end} is not in subnet ${cidr}` });
    if (start.includes('.') && ipv4ToInt(start) > ipv4ToInt(end)) {
      throw new LockedParamError({ 'dhcp-range': `start-address ${start} must be smaller than end-address ${end}` });
    }
  }
}

function subnetFields(params: Record<string, string>): Partial<SdnSubnet> {
  const out: Partial<SdnSubnet> = {};
  if (params.vnet !== undefined) out.vnet = params.vnet;
  if (params.gateway !== undefined) out.gateway = params.gateway;
  if (params.snat !== undefined) out.snat = params.snat === '1' ? 1 : 0;
  if (params.dnszoneprefix !== undefined) out.dnszoneprefix = params.dnszoneprefix;
  if (params['dhcp-range'] !== undefined) out['dhcp-range'] = params['dhcp-range'].split('\0');
  if (params['dhcp-dns-server'] !== undefined) out['dhcp-dns-server'] = params['dhcp-dns-server'];
  return out;
}

function subnetItem(id: string, subnet: Record<string, unknown>, digest: string | undefined) {
  const item: Record<string, unknown> = {
    type: 'subnet',
    ...subnet,
    subnet: id,
    id,
    ...subnetParts(id),
    'dhcp-range': parseRanges(subnet['dhcp-range'] as string[] | undefined),
  };
  if (digest !== undefined) item.digest = digest;
  return item;
}

function listSubnets(ctx: HandlerContext) {
  const { sim, params } = ctx;
  checkVnetAccess(ctx, params.vnet, ['SDN.Audit', 'SDN.Allocate']);
  const { objects, digest } = viewOf(sim.state, 'subnets', params);
  return Object.keys(objects)
    .sort()
    .filter((id) => objects[id]!.vnet === params.vnet)
    .map((id) => subnetItem(id, objects[id]!, digest));
}

function readSubnet(ctx: HandlerContext) {
  const { sim, params } = ctx;
  checkVnetAccess(ctx, params.vnet, ['SDN.Audit', 'SDN.Allocate']);
  const { objects, digest } = viewOf(sim.state, 'subnets', params);
  const subnet = objects[params.subnet!];
  if (!subnet) fail(`sdn subnet '${params.subnet}' does not exist`);
  if (subnet.vnet !== params.vnet) throw new ParameterError({ vnet: 'wrong vnet' });
  return subnetItem(params.subnet!, subnet, digest);
}

function createSubnet(ctx: HandlerContext) {
  const { sim, params } = ctx;
  const vnet = checkVnetAccess(ctx, params.vnet, ['SDN.Allocate']);
  underSdnLock('create sdn subnet object failed', () => {
    const objects = editedSdn(sim.state);
    const id = `${vnet.zone}-${params.subnet!.replace('/', '-')}`;
    if (objects.subnets[id]) fail(`sdn subnet object ID '${id}' already defined`);
    objects.subnets[id] = subnetFields(params) as SdnSubnet;
    try {
      subnetUpdateHook(objects, id);
    } catch (error) {
      delete objects.subnets[id];
      throw error;
    }
  });
  return null;
}

function updateSubnet(ctx: HandlerContext) {
  const { sim, params } = ctx;
  checkVnetAccess(ctx, params.vnet, ['SDN.Allocate']);
  underSdnLock('update sdn subnet object failed', () => {
    const objects = editedSdn(sim.state);
    const before = objects.subnets[params.subnet!];
    if (!before) fail(`sdn subnet '${params.subnet}' does not exist`);
    checkDigest(sim.state, 'subnets', params.digest);
    const next = { ...before };
    deleteOptions(next as unknown as Record<string, unknown>, subnetOptions, params);
    Object.assign(next, subnetFields(params));
    objects.subnets[params.subnet!] = next;
    try {
      subnetUpdateHook(objects, params.subnet!);
    } catch (error) {
      objects.subnets[params.subnet!] = before;
      throw error;
    }
  });
  return null;
}

function deleteSubnet(ctx: HandlerContext) {
  const { sim, params } = ctx;
  checkVnetAccess(ctx, params.vnet, ['SDN.Allocate']);
  underSdnLock('delete sdn subnet object failed', () => {
    delete editedSdn(sim.state).subnets[params.subnet!];
  });
  return null;
}

const subnetId: ParamSpec = { type: 'string', format: 'pve-sdn-subnet-id' };
const views = { pending: p.bool, running: p.bool };
const optionSpecs: ParamSpecs = {
  gateway: { type: 'string', optional: true, format: 'ip' },
  snat: p.bool,
  dnszoneprefix: { type: 'string', optional: true, format: 'dns-name' },
  'dhcp-range': { type: 'string', optional: true, format: 'pve-sdn-dhcp-range' },
  'dhcp-dns-server': { type: 'string', optional: true, format: 'ip' },
};
const base = '/cluster/sdn/vnets/{vnet}/subnets';

export const subnetRoutes: Route[] = [
  { method: 'GET', path: base, params: { ...views, vnet: vnetId }, handler: listSubnets },
  {
    method: 'POST',
    path: base,
    params: { ...optionSpecs, vnet: p.reqStr, subnet: subnetId, type: { type: 'string', enum: ['subnet'] } },
    handler: createSubnet,
  },
  {
    method: 'GET',
    path: `${base}/{subnet}`,
    params: { ...views, vnet: vnetId, subnet: subnetId },
    handler: readSubnet,
  },
  {
    method: 'PUT',
    path: `${base}/{subnet}`,
    params: {
      ...optionSpecs,
      vnet: p.str,
      subnet: subnetId,
      delete: { type: 'string', optional: true, format: 'pve-configid-list', maxLength: 4096 },
      digest: { type: 'string', optional: true, maxLength: 64 },
    },
    handler: updateSubnet,
  },
  { method: 'DELETE', path: `${base}/{subnet}`, params: { vnet: vnetId, subnet: subnetId }, handler: deleteSubnet },
];
