/**
 * What the spec means for one packet: whether it should reach its destination, and why. This reads
 * the spec (rules, intra, egress) and the lab's routes, never the compiled firewall, so comparing
 * the two checks the compiler.
 */
import { egressAllowance, egressAllows } from '../network/egress';
import { portSpecCovers, rulePorts } from '../network/rule-paths';
import { endpointOf, hopTo, type LabTopology } from '../network/topology';
import type { Protocol } from '../spec/policy';

/**
 * Why a probe expects what it does: a rule opens it; VMs share a network (open unless the network
 * says `intra: deny`); nothing opens it between networks; egress decides; it crosses to another
 * copy; it aims at the management network.
 */
export type ProbeReason = 'rule' | 'same-network' | 'default-deny' | 'egress' | 'cross-copy' | 'management';

/** What a probe should see, and why. */
export interface Expectation {
  expected: 'reach' | 'blocked';
  why: ProbeReason;
}

function ruleCovers(
  topology: LabTopology,
  source: { vm: string; network: string },
  destination: { vm: string; network: string },
  proto: Protocol,
  port: number | null,
): boolean {
  const sourceEntry = topology.vms.get(source.vm)!.entry;
  const destinationEntry = topology.vms.get(destination.vm)!.entry;
  return topology.spec.rules.some((rule) => {
    const from = endpointOf(topology, rule.from);
    const to = endpointOf(topology, rule.to);
    if (!from || !to) return false;
    const fromMatches = from.kind === 'vm' ? from.name === sourceEntry : from.name === source.network;
    const toMatches = to.kind === 'vm' ? to.name === destinationEntry : to.name === destination.network;
    return fromMatches && toMatches && rulePorts(rule).some((spec) => portSpecCovers(spec, proto, port));
  });
}

/**
 * Whether `from` should reach `destination`'s address on `network` (same copy) with one packet.
 * It must have a way there (its own NIC on that network, or a route through a router) and the
 * destination a way back; then the network's `intra` (for VMs on the same network) or a rule
 * decides. Replies to allowed traffic always pass.
 */
export function expectLabTraffic(
  topology: LabTopology,
  from: string,
  destination: string,
  network: string,
  proto: Protocol,
  port: number | null,
): Expectation {
  const hop = hopTo(topology, from, network);
  const direct = hop !== undefined && hop.router === undefined;
  const otherwise: Expectation = {
    expected: 'blocked',
    why: direct ? 'same-network' : 'default-deny',
  };
  if (!hop || !hopTo(topology, destination, hop.sourceNetwork)) return otherwise;
  if (direct && topology.networks.get(network)!.network.intra === 'allow') {
    return { expected: 'reach', why: 'same-network' };
  }
  const covered = ruleCovers(
    topology,
    { vm: from, network: hop.sourceNetwork },
    { vm: destination, network },
    proto,
    port,
  );
  return covered ? { expected: 'reach', why: 'rule' } : otherwise;
}

/** Whether `from` should reach `address` outside the lab (through its management NIC). */
export function expectEgress(
  topology: LabTopology,
  from: string,
  address: number,
  proto: Protocol,
  port: number | null,
): Expectation {
  const allowed = egressAllows(egressAllowance(topology, from), address, proto, port);
  return { expected: allowed ? 'reach' : 'blocked', why: 'egress' };
}
