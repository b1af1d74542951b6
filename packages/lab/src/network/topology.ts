/**
 * One copy of a lab as a network: VM instances with their addresses, networks with their members,
 * and how a packet from a VM gets to a lab network. The firewall compiler, the reachability matrix
 * and the rule validation all read the lab through this, so they agree on where traffic goes.
 */
import { contains, type Ipv4Network, parseCidr, parseIpv4 } from '../spec/ipv4';
import type { LabNetwork, LabSpec } from '../spec/resolve';
import { type LabAddressing, labAddressing, type NicAddressing, type VmAddressing } from './addressing';

/** A lab network with its parsed range and its members. */
export interface TopologyNetwork {
  network: LabNetwork;
  range: Ipv4Network;
  /** Instances on it, in spec order. */
  members: string[];
}

/** A VM instance's addressing with lookups by network. */
export interface TopologyVm extends VmAddressing {
  /** Address (as a number) on each of its networks. */
  addressOn: Map<string, number>;
  nicOn: Map<string, NicAddressing>;
}

/** One copy of a lab as a network, for the compiler, the matrix and validation. */
export interface LabTopology {
  spec: LabSpec;
  addressing: LabAddressing;
  networks: Map<string, TopologyNetwork>;
  vms: Map<string, TopologyVm>;
  /** Instances of each VM entry, in order. */
  entries: Map<string, string[]>;
}

/** How a VM sends to an address on a lab network. */
export interface LabHop {
  /** The VM's NIC the packet leaves by, the network it is on, and the source address it carries. */
  nic: number;
  sourceNetwork: string;
  sourceAddress: number;
  /** The router the packet goes through, when the destination network is not the VM's own. */
  router?: string;
}

/** The topology of a validated spec (addressing computed unless given). */
export function labTopology(spec: LabSpec, addressing: LabAddressing = labAddressing(spec)): LabTopology {
  const networks = new Map<string, TopologyNetwork>(
    spec.networks.map((network) => [network.name, { network, range: parseCidr(network.cidr)!, members: [] }]),
  );
  const vms = new Map<string, TopologyVm>();
  const entries = new Map<string, string[]>(spec.vms.map((vm) => [vm.name, []]));
  for (const vm of addressing.vms) {
    const addressOn = new Map(vm.nics.map((nic) => [nic.network, parseIpv4(nic.address)!]));
    const nicOn = new Map(vm.nics.map((nic) => [nic.network, nic]));
    vms.set(vm.vm, { ...vm, addressOn, nicOn });
    entries.get(vm.entry)!.push(vm.vm);
    for (const nic of vm.nics) networks.get(nic.network)!.members.push(vm.vm);
  }
  return { spec, addressing, networks, vms, entries };
}

/**
 * How `vm` sends to an address on `network`: straight out of its own NIC when it is on that
 * network, else through the router its routes name; undefined when it has no route there.
 */
export function hopTo(topology: LabTopology, vm: string, network: string): LabHop | undefined {
  const from = topology.vms.get(vm)!;
  const direct = from.nicOn.get(network);
  if (direct) return { nic: direct.nic, sourceNetwork: network, sourceAddress: from.addressOn.get(network)! };
  const route = from.routes.find((candidate) => candidate.toNetwork === network);
  if (!route) return undefined;
  return {
    nic: route.nic,
    sourceNetwork: route.network,
    sourceAddress: from.addressOn.get(route.network)!,
    router: route.router,
  };
}

/** The lab network holding `address`, if any. */
export function networkHolding(topology: LabTopology, address: number): string | undefined {
  for (const [name, network] of topology.networks) if (contains(network.range, address)) return name;
  return undefined;
}

/** What a rule's `from` or `to` names: a network or a VM entry of this lab. */
export type Endpoint = { kind: 'network'; name: string } | { kind: 'vm'; name: string };

/** Resolves a rule's `from`/`to`; undefined for an unknown or ambiguous name (validation reports those). */
export function endpointOf(topology: LabTopology, name: string): Endpoint | undefined {
  const network = topology.networks.has(name);
  const vm = topology.entries.has(name);
  if (network === vm) return undefined;
  return network ? { kind: 'network', name } : { kind: 'vm', name };
}
