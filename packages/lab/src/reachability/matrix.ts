/**
 * The reachability matrix: the probes that prove a lab's containment from inside its guests. Each
 * rule, each network, each pair of networks, each VM entry's egress and management access, and each
 * crossing to another copy gets a representative probe, so the list grows with the spec's size
 * (at worst with networks² and VM entries × egress entries), not with count × copies.
 */
import { egressAllowance } from '../network/egress';
import { type RulePath, rulePaths, rulePorts } from '../network/rule-paths';
import { type LabTopology, labTopology } from '../network/topology';
import { contains, formatIpv4, parseIpv4 } from '../spec/ipv4';
import { isEgressAddress, type Protocol } from '../spec/policy';
import type { LabSpec } from '../spec/resolve';
import { expectEgress, expectLabTraffic } from './expectations';
import { probeKey, type ReachabilityProbe } from './probes';

/** An address outside the lab that egress probes aim at. */
export interface OutsideTarget {
  address: string;
  /** @defaultValue 'tcp' */
  proto?: Protocol;
  /** @defaultValue 80 (ignored for ICMP) */
  port?: number;
}

/** What the matrix probes beyond the spec: outside targets and the guests' SSH port. */
export interface ReachabilityOptions {
  /**
   * Outside addresses every VM entry's egress is probed against; the simulator serves documentation
   * ranges (203.0.113.0/24, 198.51.100.0/24) on :80 and :443.
   * @defaultValue [{ address: '203.0.113.10', proto: 'tcp', port: 80 }]
   */
  outside?: OutsideTarget[];
  /** Guests' SSH port: probes that stand for "any traffic" use it, since sshd listens on every address. @defaultValue 22 */
  sshPort?: number;
}

/** Common ports tried last for a probe that must be blocked. */
const BLOCKED_CANDIDATES = [80, 443, 8080, 3389, 5432, 21, 23, 25, 8443, 9999];

type Draft = Omit<ReachabilityProbe, 'key' | 'expected' | 'why'>;

class ProbeList {
  readonly probes: ReachabilityProbe[] = [];
  private readonly keys = new Set<string>();

  add(draft: Draft, expectation: Pick<ReachabilityProbe, 'expected' | 'why'>): void {
    const key = probeKey(draft);
    if (this.keys.has(key)) return;
    this.keys.add(key);
    this.probes.push({ key, ...draft, ...expectation });
  }
}

interface Matrix {
  topology: LabTopology;
  list: ProbeList;
  sshPort: number;
}

function labDraft(
  topology: LabTopology,
  from: string,
  to: string,
  network: string,
  proto: Protocol,
  port: number | null,
): Draft {
  const address = formatIpv4(topology.vms.get(to)!.addressOn.get(network)!);
  return { fromVm: from, toVm: to, toCopy: 'same', target: 'lab', toNetwork: network, toAddress: address, proto, port };
}

/** Each rule's ports, each reached once (both ends of a range), on a path where the rule is what opens it. */
function addRuleProbes({ topology, list }: Matrix): void {
  for (const rule of topology.spec.rules) {
    const paths = rulePaths(topology, rule);
    // Inside an open network the rule adds nothing; any other path is open because of the rule.
    const opensOnlyByRule = (path: RulePath) =>
      path.hop.router !== undefined || topology.networks.get(path.destinationNetwork)!.network.intra === 'deny';
    const path = paths.find(opensOnlyByRule) ?? paths[0];
    if (!path) continue;
    for (const spec of rulePorts(rule)) {
      const ports = spec.proto === 'icmp' ? [null] : [...new Set([spec.from, spec.to])];
      for (const port of ports) {
        const verdict = expectLabTraffic(
          topology,
          path.source,
          path.destination,
          path.destinationNetwork,
          spec.proto,
          port,
        );
        list.add(labDraft(topology, path.source, path.destination, path.destinationNetwork, spec.proto, port), verdict);
      }
    }
  }
}

/**
 * TCP ports to try, in order, for a probe to `to` on `network` that must be blocked: first the
 * ports rules open towards it (so the probe checks a rule does not reach further than it says),
 * then any rule's ports, then SSH and a few common ones.
 */
function blockedCandidates(matrix: Matrix, to: string, network: string): number[] {
  const entry = matrix.topology.vms.get(to)!.entry;
  const towards: number[] = [];
  const elsewhere: number[] = [];
  for (const rule of matrix.topology.spec.rules) {
    const ports = rulePorts(rule).flatMap((spec) => (spec.proto === 'tcp' ? [spec.from] : []));
    (rule.to === entry || rule.to === network ? towards : elsewhere).push(...ports);
  }
  return [...new Set([...towards, ...elsewhere, matrix.sshPort, ...BLOCKED_CANDIDATES])];
}

/** A probe on the SSH port if it is expected to pass, else on the first candidate port nothing opens. */
function addPairProbe(matrix: Matrix, from: string, to: string, network: string, wantBlocked: boolean): void {
  const { topology, list } = matrix;
  const candidates = wantBlocked ? blockedCandidates(matrix, to, network) : [matrix.sshPort];
  for (const port of candidates) {
    const verdict = expectLabTraffic(topology, from, to, network, 'tcp', port);
    if (wantBlocked && verdict.expected !== 'blocked') continue;
    list.add(labDraft(topology, from, to, network, 'tcp', port), verdict);
    return;
  }
}

/** Inside each network: the first two VMs, both ways (blocked on a port no rule opens under `intra: deny`). */
function addSameNetworkProbes(matrix: Matrix): void {
  for (const [name, network] of matrix.topology.networks) {
    const [a, b] = network.members;
    if (a === undefined || b === undefined) continue;
    const deny = network.network.intra === 'deny';
    addPairProbe(matrix, a, b, name, deny);
    addPairProbe(matrix, b, a, name, deny);
  }
}

/**
 * Between each ordered pair of networks, from a VM only on the first: to a VM only on the second,
 * and to the second-network address of a VM on both (a dual-homed VM's other side), each on a port
 * no rule opens.
 */
function addNetworkPairProbes(matrix: Matrix): void {
  const networks = [...matrix.topology.networks.entries()];
  for (const [fromName, from] of networks) {
    for (const [toName, to] of networks) {
      if (fromName === toName) continue;
      const source = from.members.find((vm) => !to.members.includes(vm));
      if (source === undefined) continue;
      const only = to.members.find((vm) => !from.members.includes(vm));
      const both = to.members.find((vm) => vm !== source && from.members.includes(vm));
      for (const destination of [only, both]) {
        if (destination !== undefined) addPairProbe(matrix, source, destination, toName, true);
      }
    }
  }
}

function firstInstances(topology: LabTopology): string[] {
  return [...topology.entries.values()].map((instances) => instances[0]!);
}

/** An address inside an egress entry to probe it with: the configured outside address if inside it. */
function entryAddress(network: { base: number; prefix: number }, outside: OutsideTarget[]): number | undefined {
  for (const target of outside) {
    const address = parseIpv4(target.address)!;
    if (contains(network, address)) return address;
  }
  const candidate = network.prefix >= 31 ? network.base : network.base + 1;
  return isEgressAddress(candidate) ? candidate : undefined;
}

/** Per VM entry: every outside target, and one probe per egress entry it is allowed. */
function addEgressProbes(matrix: Matrix, outside: OutsideTarget[]): void {
  const { topology, list } = matrix;
  for (const vm of firstInstances(topology)) {
    const checks: { address: number; proto: Protocol; port: number | null }[] = outside.map((target) => {
      const proto = target.proto ?? 'tcp';
      return { address: parseIpv4(target.address)!, proto, port: proto === 'icmp' ? null : (target.port ?? 80) };
    });
    const allowance = egressAllowance(topology, vm);
    if (allowance.kind === 'list') {
      for (const entry of allowance.entries) {
        const address = entryAddress(entry.network, outside);
        if (address !== undefined) checks.push({ address, proto: entry.proto, port: entry.ports?.from ?? null });
      }
    }
    for (const check of checks) {
      list.add(
        {
          fromVm: vm,
          toVm: null,
          toCopy: 'same',
          target: 'outside',
          toNetwork: null,
          toAddress: formatIpv4(check.address),
          proto: check.proto,
          port: check.port,
        },
        expectEgress(topology, vm, check.address, check.proto, check.port),
      );
    }
  }
}

function managementDraft(matrix: Matrix, from: string, to: string, toCopy: 'same' | 'other'): Draft {
  return {
    fromVm: from,
    toVm: to,
    toCopy,
    target: 'management',
    toNetwork: null,
    toAddress: null,
    proto: 'tcp',
    port: matrix.sshPort,
  };
}

/** Per VM entry: another VM's management SSH (same copy), which only Glassdome may reach. */
function addManagementProbes(matrix: Matrix): void {
  const all = [...matrix.topology.vms.keys()];
  if (all.length < 2) return;
  for (const vm of firstInstances(matrix.topology)) {
    const to = all[(all.indexOf(vm) + 1) % all.length]!;
    matrix.list.add(managementDraft(matrix, vm, to, 'same'), { expected: 'blocked', why: 'management' });
  }
}

/** With several copies: per network and per VM entry, the same VM in another copy is out of reach. */
function addCrossCopyProbes(matrix: Matrix): void {
  const { topology, list } = matrix;
  if (topology.spec.copies < 2) return;
  for (const [name, network] of topology.networks) {
    const [a, b] = network.members;
    if (a === undefined || b === undefined) continue;
    list.add(
      { ...labDraft(topology, a, b, name, 'tcp', matrix.sshPort), toCopy: 'other' },
      { expected: 'blocked', why: 'cross-copy' },
    );
  }
  for (const vm of firstInstances(topology)) {
    list.add(managementDraft(matrix, vm, vm, 'other'), { expected: 'blocked', why: 'cross-copy' });
  }
}

/**
 * The probes proving one lab's containment, each with what the spec expects and why: every rule's
 * ports reach; inside a network, VMs reach each other unless `intra: deny`; between networks, a
 * port no rule opens is blocked; egress reaches what the VM's networks allow and nothing else;
 * no guest reaches another's management address, nor anything of another copy. Deduplicated by
 * `key`; the same for every copy (a prober runs it in each).
 */
export function reachabilityMatrix(spec: LabSpec, options: ReachabilityOptions = {}): ReachabilityProbe[] {
  const outside = options.outside ?? [{ address: '203.0.113.10', proto: 'tcp', port: 80 }];
  for (const target of outside) {
    const address = parseIpv4(target.address);
    if (address === undefined || !isEgressAddress(address)) {
      throw new RangeError(`outside probe address ${target.address} must be a public IPv4 address`);
    }
  }
  const matrix: Matrix = { topology: labTopology(spec), list: new ProbeList(), sshPort: options.sshPort ?? 22 };
  addRuleProbes(matrix);
  addSameNetworkProbes(matrix);
  addNetworkPairProbes(matrix);
  addEgressProbes(matrix, outside);
  addManagementProbes(matrix);
  addCrossCopyProbes(matrix);
  return matrix.list.probes;
}
