import {
  broadcastOf,
  contains,
  formatIpv4,
  gatewayOf,
  guestCapacity,
  type Ipv4Network,
  overlaps,
  parseCidr,
  parseIpv4,
} from '../ipv4';
import type { SpecIssue } from '../issues';
import type { LabSpecParsed, LabVmParsed } from '../lab-schema';

type Path = (string | number)[];

interface DeclaredNetwork extends Ipv4Network {
  index: number;
  cidr: string;
  /** VMs attached, after count. */
  guests: number;
  /** Static address → index of the VM entry that claimed it. */
  claimed: Map<number, number>;
}

function declaredNetworks(spec: LabSpecParsed, issues: SpecIssue[]): Map<string, DeclaredNetwork> {
  const declared = new Map<string, DeclaredNetwork>();
  spec.networks.forEach((network, index) => {
    // A repeated name is reported by checkNames; comparing it with its twin would only add noise.
    if (declared.has(network.name)) return;
    // The schema has already checked the CIDR's form.
    const range = parseCidr(network.cidr)!;
    for (const other of declared.values()) {
      if (overlaps(range, other)) {
        issues.push({
          path: ['networks', index, 'cidr'],
          message: `overlaps networks[${other.index}] (${other.cidr})`,
        });
      }
    }
    declared.set(network.name, { ...range, index, cidr: network.cidr, guests: 0, claimed: new Map() });
  });
  return declared;
}

function checkStaticAddress(
  network: DeclaredNetwork,
  name: string,
  ip: string,
  vmIndex: number,
  at: Path,
): SpecIssue | undefined {
  const address = parseIpv4(ip)!;
  if (!contains(network, address)) return { path: at, message: `is outside ${name} (${network.cidr})` };
  if (address === network.base || address === broadcastOf(network)) {
    return { path: at, message: `is the network or broadcast address of ${name}` };
  }
  if (address === gatewayOf(network)) {
    return { path: at, message: `is reserved for ${name}'s router (${formatIpv4(address)})` };
  }
  const earlier = network.claimed.get(address);
  if (earlier !== undefined) return { path: at, message: `is already given to vms[${earlier}] on ${name}` };
  network.claimed.set(address, vmIndex);
  return undefined;
}

function checkAttachments(vm: LabVmParsed, vmIndex: number, declared: Map<string, DeclaredNetwork>): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const seen = new Set<string>();
  vm.networks.forEach((entry, position) => {
    const name = typeof entry === 'string' ? entry : entry.name;
    const entryPath = ['vms', vmIndex, 'networks', position];
    const network = declared.get(name);
    if (!network) {
      const namePath = typeof entry === 'string' ? entryPath : [...entryPath, 'name'];
      issues.push({ path: namePath, message: `network "${name}" is not declared in networks` });
      return;
    }
    if (seen.has(name)) {
      issues.push({ path: entryPath, message: `attaches to ${name} twice` });
      return;
    }
    seen.add(name);
    network.guests += vm.count ?? 1;
    if (typeof entry === 'object' && entry.ip !== undefined) {
      const problem = checkStaticAddress(network, name, entry.ip, vmIndex, [...entryPath, 'ip']);
      if (problem) issues.push(problem);
    }
  });
  return issues;
}

/**
 * Networks that VMs use must be declared and must not overlap; static addresses must be usable
 * guest addresses of their network and unique on it; a network must have room for its VMs.
 */
export function checkNetworks(spec: LabSpecParsed): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const declared = declaredNetworks(spec, issues);
  spec.vms.forEach((vm, index) => {
    issues.push(...checkAttachments(vm, index, declared));
  });
  for (const [name, network] of declared) {
    const capacity = guestCapacity(network);
    if (network.guests > capacity) {
      issues.push({
        path: ['networks', network.index, 'cidr'],
        message: `${name} has addresses for ${capacity} VMs but ${network.guests} attach to it`,
      });
    }
  }
  return issues;
}
