/**
 * Where a VM's NICs are and what addresses its guest gives them: each `netN` sits on an L2
 * segment (a bridge, a bridge VLAN, or an SDN VNet), takes its address from `ipconfigN` (static)
 * or DHCP (served only on the management network: untagged on the default bridge, from the
 * guest subnet as base + vmid, gateway base + 1), and the guest routes by its table: connected
 * subnets, the default route (a static `gw=` first, as cloud-init's static routes carry no metric;
 * else the DHCP lease's, metric 100), and what the guest changed itself (`ip route add|del`, kept on
 * its disk record), the longest matching prefix first.
 *
 * A VM with no NIC on the management network keeps the simulator's older single-NIC behaviour: its
 * first NIC gets the guest-subnet address (static `ipconfig0`, else the lease) wherever it is
 * attached, so such a VM stays reachable over SSH.
 */
import { defaultBridge } from '../state/defaults';
import type { GuestRouteEntry } from '../state/guest-disk';
import type { ClusterState, Vm } from '../state/types';
import { netKeyPattern, parseNet, parseProperties } from '../state/vm-config';
import { type Cidr, cidrContains, intToIp, ipToInt, networkOf, parseCidr } from './addresses';

export interface NicAddress {
  ip: string;
  prefix: number;
  /** From a DHCP lease (shown `dynamic` by `ip addr`). */
  dynamic: boolean;
}

export interface GuestNic {
  /** `net0`… */
  netId: string;
  index: number;
  /** The guest's name for it: ens18 for net0, ens19 for net1… */
  name: string;
  /** Lower-case MAC. */
  mac: string;
  bridge: string;
  tag?: number;
  /** The L2 segment it is plugged into; undefined when its bridge/VNet does not exist or the link is down. */
  segment?: string;
  /** Untagged on the default bridge: the management network with DHCP and the uplink. */
  management: boolean;
  /** `firewall=1` in the NIC's config. */
  firewall: boolean;
  address?: NicAddress;
  gateway?: string;
}

export interface TopologyContext {
  /** The management network's DHCP range, e.g. 127.64.0.0/16. */
  guestSubnet: string;
  /** Applied SDN config: zones (type, bridge) and VNets (zone, tag). */
  sdn: ClusterState['sdn'];
  /** Names of the nodes' Linux bridges. */
  bridges: string[];
}

export const managementSegment = defaultBridge;

export function topologyContext(state: ClusterState, guestSubnet: string): TopologyContext {
  return {
    guestSubnet,
    sdn: state.sdn,
    bridges: [...new Set([defaultBridge, ...Object.values(state.bridges).map((bridge) => bridge.iface)])],
  };
}

/** The guest's interface name of `netN` (PCI slot 18 + N on the first bus, then the bridge behind it). */
export function nicName(index: number): string {
  return index <= 5 ? `ens${18 + index}` : `enp1s${index - 5}`;
}

/** The segment of a NIC on `bridge` (a Linux bridge or an SDN VNet) with an optional VLAN tag. */
export function segmentOf(bridge: string, tag: number | undefined, ctx: TopologyContext): string | undefined {
  const vnet = ctx.sdn.vnets[bridge];
  if (vnet) {
    const zone = ctx.sdn.zones[vnet.zone];
    // A VLAN zone only tags frames on its bridge: the VNet is that bridge's VLAN.
    if (zone?.type === 'vlan' && zone.bridge) return vnet.tag ? `${zone.bridge}.${vnet.tag}` : zone.bridge;
    return `vnet:${vnet.vnet}`;
  }
  if (!ctx.bridges.includes(bridge)) return undefined;
  return tag ? `${bridge}.${tag}` : bridge;
}

/** Addresses a subnet's DHCP server hands out: every one but the network and broadcast addresses. */
function hostsOf(subnet: string): { base: number; prefix: number; hosts: number } {
  const [base, bits] = subnet.split('/');
  const prefix = Number(bits ?? 24);
  return { base: ipToInt(base!), prefix, hosts: 2 ** (32 - prefix) - 2 };
}

/** The offset a VM's lease starts from: base + vmid, wrapped into the subnet. */
function preferredOffset(vmid: number, hosts: number): number {
  return ((vmid - 1) % hosts) + 1;
}

/** A VM's DHCP lease: the offset it was given (`leaseDhcp`), else base + vmid wrapped into the subnet. */
export function dhcpLease(subnet: string, vm: Pick<Vm, 'vmid' | 'dhcpOffset'>): { ip: string; prefix: number } {
  const { base, prefix, hosts } = hostsOf(subnet);
  return { ip: intToIp(base + (vm.dhcpOffset ?? preferredOffset(vm.vmid, hosts))), prefix };
}

/**
 * Gives each of `fresh` (VMs just made) a lease no other VM of `vms` holds, as a DHCP server never
 * hands one address to two clients: base + vmid when free, else the next free address. VMIDs go up
 * to 999,999 while a /16 holds 65,534 hosts, so base + vmid alone would put two guests of a large
 * class on one address.
 */
export function leaseDhcp(vms: Record<number, Vm>, fresh: Vm[], subnet: string): void {
  const { hosts } = hostsOf(subnet);
  const freshIds = new Set(fresh.map((vm) => vm.vmid));
  const taken = new Set<number>();
  for (const vm of Object.values(vms)) {
    if (!freshIds.has(vm.vmid)) taken.add(vm.dhcpOffset ?? preferredOffset(vm.vmid, hosts));
  }
  for (const vm of fresh) {
    let offset = preferredOffset(vm.vmid, hosts);
    for (let tries = 0; taken.has(offset) && tries < hosts; tries += 1) offset = (offset % hosts) + 1;
    vm.dhcpOffset = offset;
    taken.add(offset);
  }
}

/** The management network's router (DHCP server, DNS resolver, uplink): subnet base + 1. */
export function managementGateway(subnet: string): string {
  return intToIp(ipToInt(subnet.split('/')[0]!) + 1);
}

function staticAddress(ipconfig: string | undefined): { address?: NicAddress; gateway?: string; dhcp: boolean } {
  if (!ipconfig) return { dhcp: false };
  const props = parseProperties(ipconfig, 'ip');
  const out: { address?: NicAddress; gateway?: string; dhcp: boolean } = { dhcp: props.ip === 'dhcp' };
  const [ip, bits] = (props.ip ?? '').split('/');
  if (ip && bits && parseCidr(`${ip}/${bits}`)) out.address = { ip, prefix: Number(bits), dynamic: false };
  if (props.gw) out.gateway = props.gw;
  return out;
}

/** Every NIC of a VM in `netN` order, with the address and gateway its guest configures. */
export function guestNics(vm: Vm, ctx: TopologyContext): GuestNic[] {
  const nics = Object.keys(vm.config)
    .filter((key) => netKeyPattern.test(key))
    .map((key) => ({ key, index: Number(key.slice(3)) }))
    .sort((a, b) => a.index - b.index)
    .map(({ key, index }): GuestNic => {
      const value = vm.config[key]!;
      const net = parseNet(value);
      const props = parseProperties(value, 'model');
      const tag = net.tag ? Number(net.tag) : undefined;
      const bridge = net.bridge ?? '';
      const nic: GuestNic = {
        netId: key,
        index,
        name: nicName(index),
        mac: (net.mac ?? '00:00:00:00:00:00').toLowerCase(),
        bridge,
        management: bridge === defaultBridge && tag === undefined,
        firewall: props.firewall === '1',
      };
      if (tag !== undefined) nic.tag = tag;
      const segment = props.link_down === '1' ? undefined : segmentOf(bridge, tag, ctx);
      if (segment) nic.segment = segment;
      return nic;
    });
  const legacy = !nics.some((nic) => nic.management) ? nics[0] : undefined;
  for (const nic of nics) {
    const configured = staticAddress(vm.config[`ipconfig${nic.index}`]);
    const leased = nic.management || nic === legacy;
    if (configured.address) nic.address = configured.address;
    else if (leased && (configured.dhcp || !vm.config[`ipconfig${nic.index}`])) {
      nic.address = { ...dhcpLease(ctx.guestSubnet, vm), dynamic: true };
      nic.gateway = managementGateway(ctx.guestSubnet);
    }
    if (configured.gateway && nic.address && !nic.address.dynamic) nic.gateway = configured.gateway;
  }
  return nics;
}

/** The NIC Glassdome and the simulator's SSH reach a guest on: the management NIC, else the legacy first NIC. */
export function accessNic(nics: GuestNic[]): GuestNic | undefined {
  return (
    nics.find((nic) => nic.management && nic.address) ?? (nics.some((nic) => nic.management) ? undefined : nics[0])
  );
}

export interface GuestRoute {
  /** `default` or a network such as 10.10.1.0/24 (a host route is the bare address). */
  destination: string;
  nic: GuestNic;
  via?: string;
  /** `kernel` (connected), `static`/`dhcp` (from the NIC's config), `boot` (`ip route add`) or what `proto` gave. */
  proto: string;
  metric?: number;
  /** `link` for a route straight onto the link (no gateway). */
  scope?: 'link';
  /** The preferred source address `ip route` prints (connected and DHCP routes). */
  src?: string;
}

/** The routes the NICs' configuration gives: connected networks, the static and DHCP default routes. */
function configuredRoutes(nics: GuestNic[]): GuestRoute[] {
  const routes: GuestRoute[] = [];
  for (const nic of nics) {
    const address = nic.address;
    if (!address || !nic.segment) continue;
    const metric = address.dynamic ? { metric: 100 } : {};
    routes.push({
      destination: networkOf(address.ip, address.prefix),
      nic,
      proto: 'kernel',
      scope: 'link',
      src: address.ip,
      ...metric,
    });
    // A gateway outside the NIC's subnet cannot be reached, so its route is not installed.
    if (nic.gateway && cidrContains(parseCidr(`${address.ip}/${address.prefix}`)!, nic.gateway)) {
      if (address.dynamic) {
        routes.push({ destination: 'default', nic, via: nic.gateway, proto: 'dhcp', src: address.ip, ...metric });
        // systemd-networkd adds the DHCP router as a host route of its own.
        routes.push({ destination: nic.gateway, nic, proto: 'dhcp', scope: 'link', src: address.ip, ...metric });
      } else {
        routes.push({ destination: 'default', nic, via: nic.gateway, proto: 'static' });
      }
    }
  }
  return routes;
}

/** A destination as a network: `default` is 0.0.0.0/0, a bare address a /32. */
export function destinationCidr(destination: string): Cidr {
  return destination === 'default' ? { base: 0, prefix: 0 } : parseCidr(destination)!;
}

/** Whether a gateway lies on one of the NIC's connected networks (the kernel's "valid gateway"). */
export function gatewayOnLink(nic: GuestNic, via: string): boolean {
  const address = nic.address;
  return address !== undefined && cidrContains(parseCidr(`${address.ip}/${address.prefix}`)!, via);
}

/** Two routes the kernel would take for the same one: same destination and metric. */
export function sameRouteKey(a: { destination: string; metric?: number }, b: { destination: string; metric?: number }) {
  return a.destination === b.destination && (a.metric ?? 0) === (b.metric ?? 0);
}

/**
 * The guest's main routing table as `ip route` lists it (by destination address, then prefix length,
 * then metric): the configured routes, less those the guest deleted, plus those it added. A route
 * whose interface has no address or no link, or whose gateway is no longer on the link, is left out.
 */
export function routesOf(nics: GuestNic[], changes: readonly GuestRouteEntry[] = []): GuestRoute[] {
  const configured = configuredRoutes(nics).filter(
    (route) =>
      !changes.some((change) => change.deleted && change.dev === route.nic.name && sameRouteKey(change, route)),
  );
  const added: GuestRoute[] = [];
  for (const change of changes) {
    if (change.deleted) continue;
    const nic = nics.find((candidate) => candidate.name === change.dev);
    if (!nic?.address || !nic.segment) continue;
    if (change.via && !gatewayOnLink(nic, change.via)) continue;
    const route: GuestRoute = { destination: change.destination, nic, proto: change.proto ?? 'boot' };
    if (change.via) route.via = change.via;
    else route.scope = 'link';
    if (change.metric) route.metric = change.metric;
    added.push(route);
  }
  const order = (route: GuestRoute) => destinationCidr(route.destination);
  return [...configured, ...added]
    .map((route, index) => ({ route, index }))
    .sort((a, b) => {
      const left = order(a.route);
      const right = order(b.route);
      return (
        left.base - right.base ||
        left.prefix - right.prefix ||
        (a.route.metric ?? 0) - (b.route.metric ?? 0) ||
        a.route.nic.index - b.route.nic.index ||
        a.index - b.index
      );
    })
    .map(({ route }) => route);
}

/** The route a packet to `ip` takes: the longest matching prefix, then the lowest metric. */
export function routeTo(
  nics: GuestNic[],
  ip: string,
  changes: readonly GuestRouteEntry[] = [],
): { nic: GuestNic; nextHop: string; route: GuestRoute } | undefined {
  let best: GuestRoute | undefined;
  for (const route of routesOf(nics, changes)) {
    const cidr = destinationCidr(route.destination);
    if (!cidrContains(cidr, ip)) continue;
    if (!best) {
      best = route;
      continue;
    }
    const bestCidr = destinationCidr(best.destination);
    if (cidr.prefix > bestCidr.prefix || (cidr.prefix === bestCidr.prefix && (route.metric ?? 0) < (best.metric ?? 0)))
      best = route;
  }
  return best ? { nic: best.nic, nextHop: best.via ?? ip, route: best } : undefined;
}
