/**
 * A model of how pve-firewall judges one packet at one NIC of one VM, from the VM's firewall
 * objects: used by the tests to check compiled objects, and fit for a simulator's packet model.
 * It covers what Glassdome writes (in/out rules with iface, addresses, CIDRs, ranges and IPSets,
 * proto, dport; options and ipfilter). Not modelled: security groups, macros, aliases, sport,
 * icmp-type, DHCP/NDP exceptions, REJECT (treated as DROP), IPv6. Replies to accepted traffic pass
 * before any of this (conntrack), so only a connection's first packet is judged here.
 */
import { contains, parseCidr, parseIpv4 } from '../spec/ipv4';
import type { Protocol } from '../spec/policy';

/** The packet as it crosses one NIC (`iface` = `netN`). */
export interface FirewallPacket {
  iface: string;
  source: number;
  dest: number;
  proto: Protocol;
  /** Destination port; null for ICMP. */
  port: number | null;
}

/** The parts of a VM's firewall the model reads; the compiler's `VmFirewall` is one. */
export interface FirewallView {
  options: { enable?: number; policy_in?: string; policy_out?: string; ipfilter?: number };
  ipsets: readonly { name: string; entries: readonly { cidr: string; nomatch?: boolean | number }[] }[];
  rules: readonly {
    type: string;
    action: string;
    enable?: number;
    iface?: string;
    source?: string;
    dest?: string;
    proto?: string;
    dport?: string;
  }[];
}

/** The rule that decided, or `policy` / `ipfilter` / `disabled`, and the verdict. */
export interface FirewallVerdict {
  action: 'ACCEPT' | 'DROP';
  by: number | 'policy' | 'ipfilter' | 'disabled';
}

type IpsetLookup = (name: string, scope: 'guest' | 'dc' | undefined) => FirewallView['ipsets'][number] | undefined;

/** hash:net semantics: the most specific entry holding the address decides, and a `nomatch` one says no. */
function ipsetHolds(ipset: FirewallView['ipsets'][number], address: number): boolean {
  let best: { prefix: number; nomatch: boolean } | undefined;
  for (const entry of ipset.entries) {
    const range = parseCidr(entry.cidr.includes('/') ? entry.cidr : `${entry.cidr}/32`);
    if (!range || !contains(range, address)) continue;
    if (!best || range.prefix > best.prefix) best = { prefix: range.prefix, nomatch: Boolean(entry.nomatch) };
  }
  return best !== undefined && !best.nomatch;
}

function addressMatches(spec: string, address: number, lookup: IpsetLookup): boolean {
  if (spec.startsWith('+')) {
    const scoped = /^\+(?:(guest|dc)\/)?(.+)$/.exec(spec)!;
    const ipset = lookup(scoped[2]!, scoped[1] as 'guest' | 'dc' | undefined);
    if (!ipset) throw new Error(`rule names a missing IPSet ${spec}`);
    return ipsetHolds(ipset, address);
  }
  return spec.split(',').some((item) => {
    const dash = item.indexOf('-');
    if (dash > 0) {
      const low = parseIpv4(item.slice(0, dash));
      const high = parseIpv4(item.slice(dash + 1));
      if (low === undefined || high === undefined) throw new Error(`unreadable address range ${item}`);
      return address >= low && address <= high;
    }
    const range = parseCidr(item.includes('/') ? item : `${item}/32`);
    if (!range) throw new Error(`unreadable address ${item}`);
    return contains(range, address);
  });
}

function portMatches(dport: string, port: number | null): boolean {
  if (port === null) return false;
  return dport.split(',').some((item) => {
    const [low, high] = item.split(':').map(Number);
    return high === undefined ? port === low : port >= low! && port <= high;
  });
}

/**
 * The verdict of `vm`'s firewall on a packet leaving it (`out`) or entering it (`in`) through
 * `packet.iface`: the firewall off accepts everything; leaving, a source address outside the NIC's
 * `ipfilter-netN` set is dropped first; then the first matching enabled rule of that direction
 * decides; else the policy (PVE's defaults: in DROP, out ACCEPT). `clusterIpsets` are the
 * cluster's, for `+dc/name` references.
 */
export function evaluateFirewall(
  vm: FirewallView,
  direction: 'in' | 'out',
  packet: FirewallPacket,
  clusterIpsets: FirewallView['ipsets'] = [],
): FirewallVerdict {
  if (vm.options.enable !== 1) return { action: 'ACCEPT', by: 'disabled' };
  const lookup: IpsetLookup = (name, scope) =>
    (scope !== 'dc' ? vm.ipsets.find((set) => set.name === name) : undefined) ??
    (scope !== 'guest' ? clusterIpsets.find((set) => set.name === name) : undefined);
  if (direction === 'out') {
    const filter = vm.ipsets.find((set) => set.name === `ipfilter-${packet.iface}`);
    // With the ipfilter option on, a NIC without its set gets an empty one: nothing IPv4 leaves.
    if ((filter || vm.options.ipfilter === 1) && !(filter && ipsetHolds(filter, packet.source))) {
      return { action: 'DROP', by: 'ipfilter' };
    }
  }
  for (const [index, rule] of vm.rules.entries()) {
    if (rule.type !== direction || rule.enable !== 1) continue;
    if (rule.iface !== undefined && rule.iface !== packet.iface) continue;
    if (rule.proto !== undefined && rule.proto !== packet.proto) continue;
    if (rule.dport !== undefined && !portMatches(rule.dport, packet.port)) continue;
    if (rule.source !== undefined && !addressMatches(rule.source, packet.source, lookup)) continue;
    if (rule.dest !== undefined && !addressMatches(rule.dest, packet.dest, lookup)) continue;
    return { action: rule.action === 'ACCEPT' ? 'ACCEPT' : 'DROP', by: index };
  }
  const policy = direction === 'in' ? (vm.options.policy_in ?? 'DROP') : (vm.options.policy_out ?? 'ACCEPT');
  return { action: policy === 'ACCEPT' ? 'ACCEPT' : 'DROP', by: 'policy' };
}
