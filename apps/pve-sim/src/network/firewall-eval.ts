/**
 * What a compiled pve-firewall ruleset does with one packet on one VM NIC, in one direction:
 * the VM chain's rules in order (security groups inline: their first ACCEPT accepts, DROP/REJECT
 * end it, no match falls through), then the VM's policy (in: DROP, out: ACCEPT unless set).
 * Outgoing packets first pass the `ipfilter` source check. Replies of accepted connections pass
 * by conntrack, so only a connection's first packet is ever judged here.
 */
import type { FirewallIpset, FirewallRule, FirewallScope } from '../state/types';
import { cidrContains, parseCidr, rangeContains } from './addresses';
import { icmpTypeNumbers, macroLines, protocolNumber, serviceNames } from './firewall-catalog';
import { type RuleEnv, type RuleRefs, ruleIsValid } from './firewall-config';
import type { CompiledFirewall } from './firewall-daemon';

export type Proto = 'tcp' | 'udp' | 'icmp';
export type Action = 'ACCEPT' | 'DROP' | 'REJECT';

/** The first packet of a connection (IPv4). */
export interface Packet {
  src: string;
  dst: string;
  proto: Proto;
  dport?: number;
  sport?: number;
}

export interface FilterResult {
  action: Action;
  /** Which rule or policy decided, e.g. `VM 105 net0 in: rule 2 (DROP)`. */
  by: string;
}

/** An address spec's matcher; undefined specs match everything. */
function addressMatches(spec: string | undefined, ip: string, refs: RuleRefs): boolean {
  if (!spec) return true;
  if (spec.startsWith('+')) {
    const [, scope = '', name = ''] = /^\+(guest\/|dc\/|sdn\/)?(.+)$/.exec(spec) ?? [];
    const set =
      (scope === '' || scope === 'guest/' ? refs.local?.ipsets[name] : undefined) ??
      (scope === '' || scope === 'dc/' ? refs.cluster.ipsets[name] : undefined) ??
      (scope === '' || scope === 'sdn/' ? refs.sdnIpsets[name] : undefined);
    return set ? ipsetContains(set, ip, refs) : false;
  }
  const alias = resolveAlias(spec, refs);
  return (alias ?? spec).split(',').some((element) => cidrOrRangeContains(element, ip));
}

function resolveAlias(spec: string, refs: RuleRefs): string | undefined {
  const match = /^(dc\/|guest\/)?([A-Za-z][A-Za-z0-9\-_]+)$/.exec(spec);
  if (!match) return undefined;
  const key = match[2]!.toLowerCase();
  const scope = match[1] ?? '';
  const found =
    (scope !== 'dc/' ? refs.local?.aliases[key] : undefined) ??
    (scope !== 'guest/' ? refs.cluster.aliases[key] : undefined);
  return found?.cidr ?? '255.255.255.255/32';
}

function cidrOrRangeContains(element: string, ip: string): boolean {
  if (element.includes('-')) return rangeContains(element, ip);
  const cidr = parseCidr(element);
  return cidr ? cidrContains(cidr, ip) : false;
}

/** hash:net semantics: the most specific entry containing the address decides; `nomatch` excludes. */
export function ipsetContains(set: FirewallIpset, ip: string, refs: RuleRefs): boolean {
  let best: { prefix: number; nomatch: boolean } | undefined;
  for (const entry of set.entries) {
    const target = resolveAlias(entry.cidr, refs) ?? entry.cidr;
    if (!cidrOrRangeContains(target, ip)) continue;
    const prefix = target.includes('-') ? 32 : (parseCidr(target)?.prefix ?? 32);
    if (!best || prefix > best.prefix) best = { prefix, nomatch: entry.nomatch === 1 };
  }
  return best !== undefined && !best.nomatch;
}

function portMatches(spec: string | undefined, port: number | undefined): boolean {
  if (!spec) return true;
  if (port === undefined) return false;
  return spec.split(',').some((item) => {
    const range = /^(\d+):(\d+)$/.exec(item);
    if (range) return port >= Number(range[1]) && port <= Number(range[2]);
    if (/^\d+$/.test(item)) return port === Number(item);
    return serviceNames[item] === port;
  });
}

/** ICMP: the packet model sends only echo requests (type 8). */
function icmpTypeMatches(spec: string | undefined): boolean {
  if (!spec || spec === 'any') return true;
  return (/^\d+$/.test(spec) ? Number(spec) : icmpTypeNumbers[spec]) === icmpTypeNumbers['echo-request'];
}

interface Matchable {
  proto?: string;
  dport?: string;
  sport?: string;
  'icmp-type'?: string;
  source?: string;
  dest?: string;
}

function lineMatches(rule: Matchable, packet: Packet, refs: RuleRefs): boolean {
  if (rule.proto && protocolNumber(rule.proto) !== protocolNumber(packet.proto)) return false;
  if (!addressMatches(rule.source, packet.src, refs) || !addressMatches(rule.dest, packet.dst, refs)) return false;
  if (packet.proto === 'icmp') return icmpTypeMatches(rule['icmp-type'] ?? rule.dport);
  return portMatches(rule.dport, packet.dport) && portMatches(rule.sport, packet.sport);
}

/** Whether an in/out rule matches (a macro matches when any of its lines does). */
export function ruleMatches(rule: FirewallRule, packet: Packet, refs: RuleRefs): boolean {
  if (rule.ipversion === 6) return false;
  if (!rule.macro) return lineMatches(rule, packet, refs);
  const { lines, only } = macroLines(rule.macro);
  if (only === 6) return false;
  return lines.some((line) => lineMatches({ ...rule, ...line }, packet, refs));
}

function usable(rule: FirewallRule, env: RuleEnv, refs: RuleRefs): boolean {
  return rule.enable === 1 && rule.ipversion !== 6 && ruleIsValid(rule, env, refs);
}

/** The first matching rule of a security group in one direction, or undefined when none matches. */
function groupVerdict(
  firewall: CompiledFirewall,
  group: string,
  direction: 'in' | 'out',
  packet: Packet,
): { action: Action; pos: number } | undefined {
  const refs: RuleRefs = { cluster: firewall.cluster, sdnIpsets: firewall.sdnIpsets };
  const rules = firewall.cluster.groups[group]?.rules ?? [];
  for (const [pos, rule] of rules.entries()) {
    if (rule.type !== direction || !usable(rule, 'group', refs)) continue;
    if (ruleMatches(rule, packet, refs)) return { action: rule.action as Action, pos };
  }
  return undefined;
}

function ipfilterAllows(scope: FirewallScope, netId: string, packet: Packet, refs: RuleRefs): boolean {
  const set = scope.ipsets[`ipfilter-${netId}`];
  if (!set && scope.options.ipfilter !== 1) return true;
  // The implicit set holds only the NIC's IPv6 link-local address, so IPv4 needs explicit entries.
  return set ? ipsetContains(set, packet.src, refs) : false;
}

/**
 * The verdict of VM `vmid`'s chain for `netId` in `direction`. Callers check first that filtering
 * applies at all (cluster enabled, service running, chain compiled, NIC firewall=1).
 */
export function vmChainVerdict(
  firewall: CompiledFirewall,
  vmid: number,
  netId: string,
  direction: 'in' | 'out',
  packet: Packet,
): FilterResult {
  const compiled = firewall.vms[String(vmid)]!;
  const { scope } = compiled;
  const refs: RuleRefs = { cluster: firewall.cluster, local: scope, sdnIpsets: firewall.sdnIpsets };
  const where = `VM ${vmid} ${netId} ${direction}`;
  if (direction === 'out' && !ipfilterAllows(scope, netId, packet, refs)) {
    return { action: 'DROP', by: `${where}: ipfilter (source ${packet.src} not in ipfilter-${netId})` };
  }
  for (const [pos, rule] of scope.rules.entries()) {
    if (rule.iface && rule.iface !== netId) continue;
    if (!usable(rule, 'vm', refs)) continue;
    if (rule.type === 'group') {
      const verdict = groupVerdict(firewall, rule.action, direction, packet);
      if (verdict) {
        return {
          action: verdict.action,
          by: `${where}: rule ${pos} group ${rule.action} rule ${verdict.pos} (${verdict.action})`,
        };
      }
      continue;
    }
    if (rule.type !== direction) continue;
    if (ruleMatches(rule, packet, refs))
      return { action: rule.action as Action, by: `${where}: rule ${pos} (${rule.action})` };
  }
  const policyKey = direction === 'in' ? 'policy_in' : 'policy_out';
  const policy = (scope.options[policyKey] as Action | undefined) ?? (direction === 'in' ? 'DROP' : 'ACCEPT');
  return { action: policy, by: `${where}: policy ${policy}` };
}
