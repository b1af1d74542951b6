/**
 * Where a rule's traffic goes: every (source VM, destination VM and address) pair the rule covers
 * and the lab can actually carry, in both directions (the reply needs a way back, too).
 */
import { type PortSpec, parsePortSpec } from '../spec/policy';
import type { LabRule } from '../spec/resolve';
import { type Endpoint, endpointOf, hopTo, type LabHop, type LabTopology } from './topology';

/** One source-to-destination path of a rule. */
export interface RulePath {
  source: string;
  /** How the source sends: its NIC, source network and address, and the router when routed. */
  hop: LabHop;
  destination: string;
  destinationNetwork: string;
  destinationAddress: number;
}

/** The instances an endpoint stands for: a network's members, or a VM entry's instances. */
export function endpointVms(topology: LabTopology, endpoint: Endpoint): string[] {
  return endpoint.kind === 'network'
    ? topology.networks.get(endpoint.name)!.members
    : topology.entries.get(endpoint.name)!;
}

function* pathsBetween(
  topology: LabTopology,
  from: Endpoint,
  to: Endpoint,
  sources: readonly string[],
  destinations: readonly string[],
): Generator<RulePath> {
  for (const source of sources) {
    for (const destination of destinations) {
      if (destination === source) continue;
      const target = topology.vms.get(destination)!;
      const networks = to.kind === 'network' ? [to.name] : target.nics.map((nic) => nic.network);
      for (const destinationNetwork of networks) {
        const hop = hopTo(topology, source, destinationNetwork);
        if (!hop) continue;
        if (from.kind === 'network' && hop.sourceNetwork !== from.name) continue;
        if (!hopTo(topology, destination, hop.sourceNetwork)) continue;
        yield {
          source,
          hop,
          destination,
          destinationNetwork,
          destinationAddress: target.addressOn.get(destinationNetwork)!,
        };
      }
    }
  }
}

/**
 * The paths of one rule. A network as `from` means traffic carrying a source address of that
 * network; as `to`, traffic to any address on it. A VM as `from` means any of its addresses; as
 * `to`, each of its addresses the source can reach. A path needs a way there (the same network, or
 * a route through a router) and a way back for the reply.
 */
export function rulePaths(topology: LabTopology, rule: LabRule): RulePath[] {
  const from = endpointOf(topology, rule.from);
  const to = endpointOf(topology, rule.to);
  if (!from || !to) return [];
  return [...pathsBetween(topology, from, to, endpointVms(topology, from), endpointVms(topology, to))];
}

/**
 * The first `perEntry` instances of each VM entry among `vms`: the instances of a counted entry
 * share networks and routes (none can be a router), so they stand for each other.
 */
function representatives(topology: LabTopology, vms: readonly string[], perEntry: number): string[] {
  const taken = new Map<string, number>();
  return vms.filter((vm) => {
    const entry = topology.vms.get(vm)!.entry;
    const count = taken.get(entry) ?? 0;
    taken.set(entry, count + 1);
    return count < perEntry;
  });
}

/** Whether the rule has any path, checked on one instance per entry (two on the destination side). */
export function ruleHasPath(topology: LabTopology, rule: LabRule): boolean {
  const from = endpointOf(topology, rule.from);
  const to = endpointOf(topology, rule.to);
  if (!from || !to) return false;
  const sources = representatives(topology, endpointVms(topology, from), 1);
  // Two per entry, so an entry's instances can still reach each other when the source is its first.
  const destinations = representatives(topology, endpointVms(topology, to), 2);
  return !pathsBetween(topology, from, to, sources, destinations).next().done;
}

const parsedPorts = new WeakMap<LabRule, PortSpec[]>();

/** A rule's ports, parsed (validation has checked each); remembered per rule object. */
export function rulePorts(rule: LabRule): PortSpec[] {
  const known = parsedPorts.get(rule);
  if (known) return known;
  const ports = rule.ports.map((text) => {
    const parsed = parsePortSpec(text);
    if (!parsed.ok) throw new RangeError(`invalid port entry ${text}: ${parsed.message}`);
    return parsed.value;
  });
  parsedPorts.set(rule, ports);
  return ports;
}

/** Whether a port spec covers one packet (`port` is ignored for ICMP). */
export function portSpecCovers(spec: PortSpec, proto: string, port: number | null): boolean {
  if (spec.proto !== proto) return false;
  if (spec.proto === 'icmp') return true;
  return port !== null && port >= spec.from && port <= spec.to;
}
