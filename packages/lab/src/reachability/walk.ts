/**
 * A reference model of a deployed lab's data path: guests with the addresses and routes of
 * `labAddressing`, each copy's networks as separate segments, a management NIC per VM, and each
 * VM's Proxmox firewall judged by `evaluateFirewall`. It answers a probe the way a real cluster
 * with those objects would, which lets tests hold compiled firewalls against the matrix's
 * expectations without a cluster. Egress to an outside address is taken to answer once it leaves.
 */

import { evaluateFirewall, type FirewallPacket, type FirewallView } from '../firewall/evaluate';
import type { LabAddressing, VmAddressing } from '../network/addressing';
import { contains, parseCidr, parseIpv4 } from '../spec/ipv4';
import type { ReachabilityProbe } from './probes';

/** One deployed copy: its addressing, its VMs' firewalls and their management addresses. */
export interface DeployedCopy {
  addressing: LabAddressing;
  firewalls: ReadonlyMap<string, FirewallView>;
  managementAddresses: Readonly<Record<string, string>>;
}

/** Every copy of a deployed lab. */
export interface DeployedLab {
  copies: DeployedCopy[];
  /** Cluster IPSets, for rules naming `+dc/…`. @defaultValue [] */
  clusterIpsets?: FirewallView['ipsets'];
}

/** Where a packet ended, and why it stopped if it did. */
export interface WalkResult {
  verdict: 'reach' | 'blocked';
  /** Each firewall or routing decision on the way, for test failure messages. */
  trace: string[];
}

/** Most routers one packet may cross; labs route one hop, this only stops a loop. */
const MAX_HOPS = 4;

interface Walk {
  lab: DeployedLab;
  trace: string[];
}

function nicOwning(copy: DeployedCopy, network: string, address: number): VmAddressing | undefined {
  return copy.addressing.vms.find((vm) =>
    vm.nics.some((nic) => nic.network === network && parseIpv4(nic.address) === address),
  );
}

function ownsAddress(vm: VmAddressing, address: number): boolean {
  return vm.nics.some((nic) => parseIpv4(nic.address) === address);
}

/** The guest's own routing: a connected lab network, else a lab route, else the management NIC. */
function routeFrom(vm: VmAddressing, dest: number) {
  const connected = vm.nics.find((nic) => contains(parseCidr(`${nic.address}/${nic.prefix}`)!, dest));
  if (connected)
    return { nic: connected.nic, network: connected.network, nextHop: dest, source: parseIpv4(connected.address)! };
  const route = vm.routes.find((candidate) => contains(parseCidr(candidate.to)!, dest));
  if (route) {
    const nic = vm.nics[route.nic]!;
    return { nic: route.nic, network: route.network, nextHop: parseIpv4(route.via)!, source: parseIpv4(nic.address)! };
  }
  return undefined;
}

function judge(walk: Walk, copy: DeployedCopy, vm: string, direction: 'in' | 'out', packet: FirewallPacket): boolean {
  const firewall = copy.firewalls.get(vm);
  if (!firewall) throw new Error(`no firewall for ${vm}`);
  const verdict = evaluateFirewall(firewall, direction, packet, walk.lab.clusterIpsets ?? []);
  walk.trace.push(`${vm} ${direction} ${packet.iface}: ${verdict.action} by ${verdict.by}`);
  return verdict.action === 'ACCEPT';
}

/** Whether a reply from `vm` finds its way back to `address` over lab networks (no firewall: conntrack). */
function replyRoutes(copy: DeployedCopy, vm: VmAddressing, address: number, hops = 0): boolean {
  if (hops > MAX_HOPS) return false;
  const route = routeFrom(vm, address);
  if (!route) return false;
  const next = nicOwning(copy, route.network, route.nextHop);
  if (!next) return false;
  if (ownsAddress(next, address)) return true;
  return next.routerFor.length > 0 && replyRoutes(copy, next, address, hops + 1);
}

/** Sends a lab packet from `from` and returns the VM that accepts it in, if any. */
function walkLab(walk: Walk, copy: DeployedCopy, from: VmAddressing, dest: number, probe: ReachabilityProbe) {
  let sender = from;
  let source: number | undefined;
  for (let hops = 0; hops <= MAX_HOPS; hops++) {
    const route = routeFrom(sender, dest);
    if (!route) {
      walk.trace.push(`${sender.vm}: no lab route (the packet would leave by the management NIC)`);
      return undefined;
    }
    source ??= route.source;
    const out = { iface: `net${route.nic}`, source, dest, proto: probe.proto, port: probe.port };
    if (!judge(walk, copy, sender.vm, 'out', out)) return undefined;
    const receiver = nicOwning(copy, route.network, route.nextHop);
    if (!receiver) {
      walk.trace.push(`nobody holds the next hop on ${route.network}`);
      return undefined;
    }
    const inbound = { ...out, iface: `net${receiver.nics.find((nic) => nic.network === route.network)!.nic}` };
    if (!judge(walk, copy, receiver.vm, 'in', inbound)) return undefined;
    if (ownsAddress(receiver, dest)) return { receiver, source };
    if (receiver.routerFor.length === 0) {
      walk.trace.push(`${receiver.vm} does not forward`);
      return undefined;
    }
    sender = receiver;
  }
  return undefined;
}

function managementAddressOf(copy: DeployedCopy, vm: string): number {
  const address = copy.managementAddresses[vm];
  if (address === undefined) throw new Error(`no management address for ${vm}`);
  return parseIpv4(address)!;
}

/**
 * What the deployed lab does with one probe run from copy `fromCopy`: `reach` when the packet is
 * accepted into `toVm` of the intended copy (or leaves the management NIC for an outside address),
 * with a way back for the reply; `blocked` otherwise.
 */
export function walkProbe(lab: DeployedLab, probe: ReachabilityProbe, fromCopy = 0): WalkResult {
  const walk: Walk = { lab, trace: [] };
  const copy = lab.copies[fromCopy]!;
  const targetCopyIndex = probe.toCopy === 'same' ? fromCopy : (fromCopy + 1) % lab.copies.length;
  const targetCopy = lab.copies[targetCopyIndex]!;
  const from = copy.addressing.vms.find((vm) => vm.vm === probe.fromVm)!;
  const result = (reached: boolean): WalkResult => ({ verdict: reached ? 'reach' : 'blocked', trace: walk.trace });

  if (probe.target === 'lab') {
    // Each copy's networks are segments of their own: a lab address resolves inside the sender's copy.
    const dest = parseIpv4(probe.toAddress!)!;
    const delivered = walkLab(walk, copy, from, dest, probe);
    if (!delivered) return result(false);
    const intended = delivered.receiver.vm === probe.toVm && targetCopyIndex === fromCopy;
    if (!intended) walk.trace.push(`arrived at ${delivered.receiver.vm} of copy ${fromCopy}, not the intended VM`);
    return result(intended && replyRoutes(copy, delivered.receiver, delivered.source));
  }

  const iface = `net${from.managementNic}`;
  const source = managementAddressOf(copy, from.vm);
  const dest = probe.target === 'outside' ? parseIpv4(probe.toAddress!)! : managementAddressOf(targetCopy, probe.toVm!);
  const packet = { iface, source, dest, proto: probe.proto, port: probe.port };
  if (!judge(walk, copy, from.vm, 'out', packet)) return result(false);
  if (probe.target === 'outside') return result(true);
  const target = targetCopy.addressing.vms.find((vm) => vm.vm === probe.toVm)!;
  return result(judge(walk, targetCopy, target.vm, 'in', { ...packet, iface: `net${target.managementNic}` }));
}
