/**
 * Lab addressing (IPAM): every NIC of every VM gets its address from the spec alone, so every copy
 * and every run gives the same answer, and copies use identical addresses on their own networks.
 */
import { instanceNames } from '../spec/instances';
import { broadcastOf, formatIpv4, type Ipv4Network, parseCidr, parseIpv4 } from '../spec/ipv4';
import type { LabNetwork, LabSpec } from '../spec/resolve';

/** One NIC of a lab VM: `net{nic}` on the lab network, with its address. */
export interface NicAddressing {
  /** The NIC's index: `net{nic}` is the VM's `nic`-th network in spec order. */
  nic: number;
  network: string;
  /** Dotted quad, without prefix. */
  address: string;
  /** The network's prefix length. */
  prefix: number;
  /** `static` when the spec gave the address, `allocated` when Glassdome chose it. */
  assigned: 'static' | 'allocated';
  /** The network's gateway, when it has one and this VM is not the router holding it. */
  gateway?: string;
}

/** A route to another lab network through a router on one of this VM's networks. */
export interface LabRoute {
  /** The destination network's CIDR. */
  to: string;
  /** The destination network's name. */
  toNetwork: string;
  /** The router's address (the gateway of `network`). */
  via: string;
  /** The network the router is reached on, and this VM's NIC on it. */
  network: string;
  nic: number;
  /** The VM instance holding the gateway address. */
  router: string;
}

/** The addressing of one VM instance (one of a counted entry's `{name}-N`). */
export interface VmAddressing {
  /** Instance name, as the task graph and Proxmox know it. */
  vm: string;
  /** The spec entry it comes from. */
  entry: string;
  /** One per lab network, in spec order (`net0`…). */
  nics: NicAddressing[];
  /** The management NIC's index: the NIC after the lab ones. */
  managementNic: number;
  /**
   * Routes to the lab networks this VM is not on, through a router on one of its networks (the
   * first of its networks, in spec order, whose router is on the destination network).
   */
  routes: LabRoute[];
  /** Networks whose gateway address this VM holds: it is their router and forwards between its networks. */
  routerFor: string[];
}

/** Addresses of one copy of a lab; every copy has the same. */
export interface LabAddressing {
  vms: VmAddressing[];
}

interface NetworkPool {
  network: LabNetwork;
  range: Ipv4Network;
  /** Addresses no allocation may take: network, broadcast, the router's, and every static one. */
  taken: Set<number>;
  /** Next candidate for allocation; allocation only moves forward, so it is deterministic. */
  cursor: number;
}

/** The router's address on a network: its declared gateway, else the first host, kept free for one. */
export function routerAddressOf(network: LabNetwork): number {
  if (network.gateway !== undefined) return parseIpv4(network.gateway)!;
  return parseCidr(network.cidr)!.base + 1;
}

function poolsOf(spec: LabSpec): Map<string, NetworkPool> {
  const pools = new Map<string, NetworkPool>();
  for (const network of spec.networks) {
    const range = parseCidr(network.cidr)!;
    const taken = new Set([range.base, broadcastOf(range), routerAddressOf(network)]);
    pools.set(network.name, { network, range, taken, cursor: range.base + 1 });
  }
  for (const vm of spec.vms) {
    for (const attachment of vm.networks) {
      if (attachment.ip !== undefined) pools.get(attachment.name)?.taken.add(parseIpv4(attachment.ip)!);
    }
  }
  return pools;
}

function allocate(pool: NetworkPool): number {
  const last = broadcastOf(pool.range);
  while (pool.cursor < last && pool.taken.has(pool.cursor)) pool.cursor++;
  // Validation refuses a spec whose networks are too small, so this only fires on an unvalidated one.
  if (pool.cursor >= last) throw new RangeError(`network ${pool.network.name} has no free address left`);
  const address = pool.cursor;
  pool.taken.add(address);
  pool.cursor++;
  return address;
}

function addressNics(spec: LabSpec, pools: Map<string, NetworkPool>): VmAddressing[] {
  const vms: VmAddressing[] = [];
  for (const entry of spec.vms) {
    for (const name of instanceNames(entry)) {
      const nics = entry.networks.map((attachment, nic): NicAddressing => {
        const pool = pools.get(attachment.name)!;
        const address = attachment.ip === undefined ? allocate(pool) : parseIpv4(attachment.ip)!;
        return {
          nic,
          network: attachment.name,
          address: formatIpv4(address),
          prefix: pool.range.prefix,
          assigned: attachment.ip === undefined ? 'allocated' : 'static',
        };
      });
      vms.push({ vm: name, entry: entry.name, nics, managementNic: nics.length, routes: [], routerFor: [] });
    }
  }
  return vms;
}

/**
 * Fills in gateways, routers and routes once every address is known. A route is one hop: a VM
 * reaches a network it is not on only through a router that is on both.
 */
function addRoutes(spec: LabSpec, vms: VmAddressing[]): void {
  const holder = new Map<string, VmAddressing>();
  for (const network of spec.networks) {
    if (network.gateway === undefined) continue;
    const router = vms.find((vm) =>
      vm.nics.some((nic) => nic.network === network.name && nic.address === network.gateway),
    );
    if (router) {
      holder.set(network.name, router);
      router.routerFor.push(network.name);
    }
  }
  const networkByName = new Map(spec.networks.map((network) => [network.name, network]));
  for (const vm of vms) {
    const own = new Set(vm.nics.map((nic) => nic.network));
    for (const nic of vm.nics) {
      const network = networkByName.get(nic.network)!;
      if (network.gateway !== undefined && holder.get(nic.network) !== vm) nic.gateway = network.gateway;
    }
    for (const destination of spec.networks) {
      if (own.has(destination.name)) continue;
      const through = vm.nics.find((nic) => {
        const router = holder.get(nic.network);
        return router !== undefined && router !== vm && router.nics.some((r) => r.network === destination.name);
      });
      if (!through) continue;
      vm.routes.push({
        to: destination.cidr,
        toNetwork: destination.name,
        via: networkByName.get(through.network)!.gateway!,
        network: through.network,
        nic: through.nic,
        router: holder.get(through.network)!.vm,
      });
    }
  }
}

/**
 * The addresses of a validated spec's VMs, per NIC in spec order: the static address the spec
 * gives, or the lowest free one of the network (skipping the network, broadcast and router
 * addresses and every static address), handed out in spec order of VMs, instances and NICs. The
 * result depends on the spec only: every copy and every run gets the same.
 */
export function labAddressing(spec: LabSpec): LabAddressing {
  const vms = addressNics(spec, poolsOf(spec));
  addRoutes(spec, vms);
  return { vms };
}

/**
 * A NIC's Proxmox `ipconfigN` value: `ip=10.10.0.10/24`, with `,gw=…` when `withGateway` and the
 * NIC has a gateway. A guest takes a default route from `gw`, so give it on at most one NIC, and
 * none if the management NIC must keep the default route (see `VmAddressing.routes`).
 */
export function ipconfigValue(nic: NicAddressing, withGateway = false): string {
  const ip = `ip=${nic.address}/${nic.prefix}`;
  return withGateway && nic.gateway !== undefined ? `${ip},gw=${nic.gateway}` : ip;
}
