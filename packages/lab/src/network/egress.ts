/**
 * A VM's egress allowance: what it may reach outside the lab, through its management NIC. Egress
 * is set per network but leaves per VM, so a VM may reach whatever any of its networks allows.
 */
import { contains } from '../spec/ipv4';
import { type EgressEntry, formatNetwork, isEgressAddress, type Protocol, parseEgressEntry } from '../spec/policy';
import type { LabTopology } from './topology';

/** Everything public, or the listed destinations (an empty list: nothing). */
export type EgressAllowance = { kind: 'any' } | { kind: 'list'; entries: EgressEntry[] };

/** An egress entry as text, in a canonical form used to deduplicate and to compare. */
export function formatEgressEntry(entry: EgressEntry): string {
  const target = formatNetwork(entry.network);
  if (!entry.ports) return `${entry.proto}/${target}`;
  const ports = entry.ports.from === entry.ports.to ? `${entry.ports.from}` : `${entry.ports.from}-${entry.ports.to}`;
  return `${entry.proto}/${target}:${ports}`;
}

/** The union of the egress of every network `vm` is on. */
export function egressAllowance(topology: LabTopology, vm: string): EgressAllowance {
  const entries = new Map<string, EgressEntry>();
  for (const nic of topology.vms.get(vm)!.nics) {
    const egress = topology.networks.get(nic.network)!.network.egress;
    if (egress === 'allow') return { kind: 'any' };
    if (egress === 'deny') continue;
    for (const text of egress) {
      const parsed = parseEgressEntry(text);
      if (!parsed.ok) throw new RangeError(`invalid egress entry ${text}: ${parsed.message}`);
      entries.set(formatEgressEntry(parsed.value), parsed.value);
    }
  }
  return { kind: 'list', entries: [...entries.values()] };
}

/** Whether an entry admits one packet (`port` is ignored for ICMP). */
export function egressEntryCovers(entry: EgressEntry, address: number, proto: Protocol, port: number | null): boolean {
  if (entry.proto !== proto || !contains(entry.network, address)) return false;
  if (!entry.ports) return true;
  return port !== null && port >= entry.ports.from && port <= entry.ports.to;
}

/**
 * Whether the allowance lets a packet out to `address`. Never-egress ranges (private, loopback,
 * link-local, reserved) stay closed whatever the allowance; the management network's own ranges,
 * which only the deployment knows, are closed by the compiled firewall as well.
 */
export function egressAllows(allowance: EgressAllowance, address: number, proto: Protocol, port: number | null) {
  if (!isEgressAddress(address)) return false;
  if (allowance.kind === 'any') return true;
  return allowance.entries.some((entry) => egressEntryCovers(entry, address, proto, port));
}
