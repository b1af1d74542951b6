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
  const paths: RulePath[] = [];
  for (const source of endpointVms(topology, from)) {
    for (const destination of endpointVms(topology, to)) {
      if (destination === source) continue;
      const target = topology.vms.get(destination)!;
      const networks = to.kind === 'network' ? [to.name] : target.nics.map((nic) => nic.network);
      for (const destinationNetwork of networks) {
        const hop = hopTo(topology, source, destinationNetwork);
        if (!hop) continue;
        if (from.kind === 'network' && hop.sourceNetwork !== from.name) continue;
        if (!hopTo(topology, destination, hop.sourceNetwork)) continue;
        paths.push({
          source,
          hop,
          destination,
          destinationNetwork,
          destinationAddress: target.addressOn.get(destinationNetwork)!,
        });
      }
    }
  }
  return paths;
}

/** A rule's ports, parsed (validation has checked each). */
export function rulePorts(rule: LabRule): PortSpec[] {
  return rule.ports.map((text) => {
    const parsed = parsePortSpec(text);
    if (!parsed.ok) throw new RangeError(`invalid port entry ${text}: ${parsed.message}`);
    return parsed.value;
  });
}

/** Whether a port spec covers one packet (`port` is ignored for ICMP). */
export function portSpecCovers(spec: PortSpec, proto: string, port: number | null): boolean {
  if (spec.proto !== proto) return false;
  if (spec.proto === 'icmp') return true;
  return port !== null && port >= spec.from && port <= spec.to;
}
