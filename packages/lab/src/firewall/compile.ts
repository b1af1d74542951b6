/**
 * The lab firewall compiler: a spec and the deployment's context in, Proxmox VE firewall objects
 * for every VM of one copy out. Pure; the gateway applies the result over the API.
 *
 * Every VM drops everything in and out by default (policy DROP both ways, IPv6 included) and pins
 * each NIC to its own addresses (ipfilter) and MAC (macfilter). Then, per VM:
 * - management NIC `net{k}`: in, only tcp/22 from Glassdome's management sources; out, only the
 *   VM's egress allowance, and never private, loopback, link-local or management ranges;
 * - each lab NIC on a network with `intra: allow`: anything to and from that network;
 * - each rule path: exactly the rule's ports, out of the source, into the destination, and through
 *   the router when the path is routed.
 * Replies ride conntrack, which Proxmox accepts before any VM rule.
 */
import { type EgressAllowance, egressAllowance, formatEgressEntry } from '../network/egress';
import { type RulePath, rulePaths, rulePorts } from '../network/rule-paths';
import { endpointOf, type LabTopology, labTopology } from '../network/topology';
import { contains, formatIpv4, type Ipv4Network, overlaps, parseCidr } from '../spec/ipv4';
import { formatNetwork, NEVER_EGRESS_RANGES } from '../spec/policy';
import type { LabRule, LabSpec } from '../spec/resolve';
import { type FirewallContext, type ResolvedContext, resolveContext } from './context';
import { type PortMatch, portMatches } from './dport';
import type { LabFirewall, PveFirewallOptions, PveFirewallRule, PveIpset, PveIpsetEntry, VmFirewall } from './types';

/** The IPSet of Glassdome's management sources, per VM (when the context lists more than a rule's source holds). */
export const MANAGEMENT_IPSET = 'gd-mgmt';
/** The IPSet of destinations egress never reaches, per VM (when it has any egress). */
export const NO_EGRESS_IPSET = 'gd-noegress';

/** Every lab VM's firewall options: closed by default, no spoofing, DHCP for the management NIC. */
export const LAB_VM_FIREWALL_OPTIONS: Readonly<PveFirewallOptions> = {
  enable: 1,
  policy_in: 'DROP',
  policy_out: 'DROP',
  ipfilter: 1,
  macfilter: 1,
  dhcp: 1,
  ndp: 0,
  radv: 0,
};

/** PVE's name for the IPSet that pins a NIC's source addresses. */
export function ipfilterSetName(nic: number): string {
  return `ipfilter-net${nic}`;
}

type RuleFields = Omit<PveFirewallRule, 'enable' | 'comment'>;

/** Collects one VM's rules in order, keeping the first of any two that match the same packets. */
class RuleList {
  readonly rules: PveFirewallRule[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly commentPrefix: string) {}

  add(fields: RuleFields, purpose: string): void {
    const { type, action, iface, source, dest, proto, dport } = fields;
    const key = `${type}|${action}|${iface}|${source ?? ''}|${dest ?? ''}|${proto ?? ''}|${dport ?? ''}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const rule: PveFirewallRule = { type, action, enable: 1, iface, comment: '' };
    if (source !== undefined) rule.source = source;
    if (dest !== undefined) rule.dest = dest;
    if (proto !== undefined) rule.proto = proto;
    if (dport !== undefined) rule.dport = dport;
    // Set last, so the comment comes last in the object, as in PVE's own listings.
    const { comment: _unset, ...fieldsFirst } = rule;
    this.rules.push({ ...fieldsFirst, comment: `${this.commentPrefix} ${purpose}` });
  }

  addMatches(fields: Omit<RuleFields, 'proto' | 'dport'>, matches: PortMatch[], purpose: string): void {
    for (const match of matches) {
      this.add({ ...fields, proto: match.proto, dport: 'dport' in match ? match.dport : undefined }, purpose);
    }
  }
}

interface Compilation {
  topology: LabTopology;
  context: ResolvedContext;
  lists: Map<string, RuleList>;
}

/**
 * The management ssh rule's source: the cluster IPSet the context names; else Glassdome's sources
 * written in the rule itself, as the comma list PVE takes in a rule's `source` (one kind of address,
 * no range in a list: they are IPv4 networks), when that fits its 512 characters (two API calls per VM
 * fewer than a set of its own, created and filled one entry per call); else the VM's `gd-mgmt` IPSet.
 */
function managementSource(context: ResolvedContext): string {
  if (context.sources.kind === 'ipset') return `+dc/${context.sources.name}`;
  return context.sources.inline ?? `+${MANAGEMENT_IPSET}`;
}

function addManagementRules(compilation: Compilation, vm: string, allowance: EgressAllowance): void {
  const { context } = compilation;
  const rules = compilation.lists.get(vm)!;
  const iface = `net${compilation.topology.vms.get(vm)!.managementNic}`;
  rules.add(
    {
      type: 'in',
      action: 'ACCEPT',
      iface,
      source: managementSource(context),
      proto: 'tcp',
      dport: `${context.sshPort}`,
    },
    'management ssh',
  );
  if (allowance.kind === 'list' && allowance.entries.length === 0) return;
  rules.add({ type: 'out', action: 'DROP', iface, dest: `+${NO_EGRESS_IPSET}` }, 'egress never private or management');
  if (allowance.kind === 'any') {
    rules.add({ type: 'out', action: 'ACCEPT', iface, dest: '0.0.0.0/0' }, 'egress any public');
    return;
  }
  for (const entry of allowance.entries) {
    const [match] = portMatches([
      entry.proto === 'icmp' || !entry.ports ? { proto: 'icmp' } : { proto: entry.proto, ...entry.ports },
    ]);
    rules.add(
      { type: 'out', action: 'ACCEPT', iface, dest: formatNetwork(entry.network), ...match! },
      `egress ${formatEgressEntry(entry)}`,
    );
  }
}

function addIntraRules(compilation: Compilation, vm: string): void {
  const rules = compilation.lists.get(vm)!;
  for (const nic of compilation.topology.vms.get(vm)!.nics) {
    const network = compilation.topology.networks.get(nic.network)!.network;
    if (network.intra !== 'allow') continue;
    const iface = `net${nic.nic}`;
    rules.add({ type: 'out', action: 'ACCEPT', iface, dest: network.cidr }, `intra ${network.name}`);
    rules.add({ type: 'in', action: 'ACCEPT', iface, source: network.cidr }, `intra ${network.name}`);
  }
}

/** A path's addresses as the rule names them: a network's CIDR when the rule names the network. */
function pathAddresses(topology: LabTopology, rule: LabRule, path: RulePath): { source: string; dest: string } {
  const from = endpointOf(topology, rule.from)!;
  const to = endpointOf(topology, rule.to)!;
  return {
    source:
      from.kind === 'network' ? topology.networks.get(from.name)!.network.cidr : formatIpv4(path.hop.sourceAddress),
    dest: to.kind === 'network' ? topology.networks.get(to.name)!.network.cidr : formatIpv4(path.destinationAddress),
  };
}

function addRulePaths(compilation: Compilation, rule: LabRule, index: number): void {
  const { topology, lists } = compilation;
  const matches = portMatches(rulePorts(rule));
  const purpose = `rule ${index} ${rule.from}>${rule.to}`;
  for (const path of rulePaths(topology, rule)) {
    const { source, dest } = pathAddresses(topology, rule, path);
    const destinationNic = topology.vms.get(path.destination)!.nicOn.get(path.destinationNetwork)!.nic;
    lists
      .get(path.source)!
      .addMatches({ type: 'out', action: 'ACCEPT', iface: `net${path.hop.nic}`, dest }, matches, purpose);
    lists
      .get(path.destination)!
      .addMatches({ type: 'in', action: 'ACCEPT', iface: `net${destinationNic}`, source }, matches, purpose);
    if (path.hop.router === undefined) continue;
    const router = topology.vms.get(path.hop.router)!;
    const inward = `net${router.nicOn.get(path.hop.sourceNetwork)!.nic}`;
    const outward = `net${router.nicOn.get(path.destinationNetwork)!.nic}`;
    const transit = lists.get(path.hop.router)!;
    transit.addMatches({ type: 'in', action: 'ACCEPT', iface: inward, source, dest }, matches, `transit ${purpose}`);
    transit.addMatches({ type: 'out', action: 'ACCEPT', iface: outward, source, dest }, matches, `transit ${purpose}`);
  }
}

/**
 * The source addresses the management NIC may use: its own address when the context knows it, else
 * the management network, minus Glassdome's own addresses there (so no guest can pass for Glassdome).
 */
function managementFilter(context: ResolvedContext, vm: string): PveIpsetEntry[] {
  const known = context.managementAddresses[vm];
  if (known !== undefined) return [{ cidr: known }];
  const exceptions =
    context.sources.kind === 'list' ? context.sources.ranges.filter((range) => overlaps(range, context.guestCidr)) : [];
  return [
    { cidr: formatNetwork(context.guestCidr) },
    ...exceptions.map((range): PveIpsetEntry => ({ cidr: formatNetwork(range), nomatch: 1 })),
  ];
}

function ipsetsOf(compilation: Compilation, vm: string, allowance: EgressAllowance): PveIpset[] {
  const { topology, context } = compilation;
  const addressing = topology.vms.get(vm)!;
  const ipsets: PveIpset[] = [];
  for (const nic of addressing.nics) {
    const entries = [{ cidr: nic.address }];
    // A router forwards packets from its other networks: their sources leave by this NIC too.
    if (addressing.routerFor.length > 0) {
      for (const other of addressing.nics)
        if (other !== nic) entries.push({ cidr: topology.networks.get(other.network)!.network.cidr });
    }
    ipsets.push({ name: ipfilterSetName(nic.nic), comment: `${context.commentPrefix} ${nic.network}`, entries });
  }
  ipsets.push({
    name: ipfilterSetName(addressing.managementNic),
    comment: `${context.commentPrefix} management`,
    entries: managementFilter(context, vm),
  });
  if (context.sources.kind === 'list' && context.sources.inline === undefined) {
    ipsets.push({
      name: MANAGEMENT_IPSET,
      comment: `${context.commentPrefix} Glassdome management sources`,
      entries: context.sources.ranges.map((range) => ({ cidr: formatNetwork(range) })),
    });
  }
  if (allowance.kind === 'any' || allowance.entries.length > 0) {
    const managementRanges = [context.guestCidr, ...(context.sources.kind === 'list' ? context.sources.ranges : [])];
    ipsets.push({
      name: NO_EGRESS_IPSET,
      comment: `${context.commentPrefix} never reached by egress`,
      entries: outermost([...NEVER_EGRESS_RANGES.map((text) => parseCidr(text)!), ...managementRanges]).map(
        (range) => ({
          cidr: formatNetwork(range),
        }),
      ),
    });
  }
  return ipsets;
}

/** The ranges that no other one contains (an IPSet needs no entry inside another), in the given order. */
function outermost(ranges: Ipv4Network[]): Ipv4Network[] {
  return ranges.filter(
    (range, index) =>
      !ranges.some(
        (other, otherIndex) =>
          otherIndex !== index &&
          other.prefix <= range.prefix &&
          contains(other, range.base) &&
          (other.prefix < range.prefix || otherIndex < index),
      ),
  );
}

/**
 * Compiles one copy of a validated lab into per-VM Proxmox firewall objects (every copy compiles
 * the same, but for the management addresses and tag its context gives). VMs come in spec order.
 * Throws `FirewallContextError` when the context is malformed or its management network overlaps
 * a lab network.
 */
export function compileLabFirewall(spec: LabSpec, context: FirewallContext): LabFirewall {
  const resolved = resolveContext(spec, context);
  const topology = labTopology(spec);
  const lists = new Map([...topology.vms.keys()].map((vm) => [vm, new RuleList(resolved.commentPrefix)]));
  const compilation: Compilation = { topology, context: resolved, lists };
  const allowances = new Map([...topology.vms.keys()].map((vm) => [vm, egressAllowance(topology, vm)]));
  for (const vm of topology.vms.keys()) {
    addManagementRules(compilation, vm, allowances.get(vm)!);
    addIntraRules(compilation, vm);
  }
  for (const [index, rule] of spec.rules.entries()) addRulePaths(compilation, rule, index);
  const vms: VmFirewall[] = [...topology.vms.keys()].map((vm) => ({
    vm,
    options: { ...LAB_VM_FIREWALL_OPTIONS },
    ipsets: ipsetsOf(compilation, vm, allowances.get(vm)!),
    rules: lists.get(vm)!.rules,
  }));
  return { vms };
}
