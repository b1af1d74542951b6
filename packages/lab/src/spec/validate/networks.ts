import {
  broadcastOf,
  contains,
  formatIpv4,
  type Ipv4Network,
  networkSize,
  overlaps,
  parseCidr,
  parseIpv4,
} from '../ipv4';
import type { SpecIssue } from '../issues';
import type { LabNetworkParsed, LabSpecParsed, LabVmParsed } from '../lab-schema';

type Path = (string | number)[];

interface DeclaredNetwork extends Ipv4Network {
  index: number;
  cidr: string;
  /** The declared gateway, when it is a usable address of the network. */
  gateway?: number;
  /** The router's address: the gateway, else the first host, which stays free for a router. */
  router: number;
  /** VMs attached, after count. */
  guests: number;
  /** Static address → index of the VM entry that claimed it. */
  claimed: Map<number, number>;
}

function checkGateway(network: LabNetworkParsed, range: Ipv4Network, index: number): SpecIssue | undefined {
  if (network.gateway === undefined) return undefined;
  const gateway = parseIpv4(network.gateway)!;
  const at = ['networks', index, 'gateway'];
  if (!contains(range, gateway)) return { path: at, message: `is outside ${network.name} (${network.cidr})` };
  if (gateway === range.base || gateway === broadcastOf(range)) {
    return { path: at, message: `is the network or broadcast address of ${network.name}` };
  }
  return undefined;
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
    const gatewayProblem = checkGateway(network, range, index);
    if (gatewayProblem) issues.push(gatewayProblem);
    const gateway = network.gateway === undefined || gatewayProblem ? undefined : parseIpv4(network.gateway)!;
    declared.set(network.name, {
      base: range.base,
      prefix: range.prefix,
      index,
      cidr: network.cidr,
      ...(gateway === undefined ? {} : { gateway }),
      router: gateway ?? range.base + 1,
      guests: 0,
      claimed: new Map(),
    });
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
  // A VM may hold a declared gateway (it is the router); the first host stays free when none is declared.
  if (address === network.router && network.gateway === undefined) {
    return {
      path: at,
      message: `is reserved for ${name}'s router (${formatIpv4(address)}); declare it as ${name}'s gateway to give it to a routing VM`,
    };
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
 * Networks that VMs use must be declared and must not overlap; a gateway must be a host address of
 * its network that a VM holds; static addresses must be usable guest addresses of their network
 * and unique on it; a network must have room for its VMs.
 */
export function checkNetworks(spec: LabSpecParsed): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const declared = declaredNetworks(spec, issues);
  spec.vms.forEach((vm, index) => {
    issues.push(...checkAttachments(vm, index, declared));
  });
  for (const [name, network] of declared) {
    if (network.gateway !== undefined && !network.claimed.has(network.gateway)) {
      issues.push({
        path: ['networks', network.index, 'gateway'],
        message: `no VM on ${name} holds ${formatIpv4(network.gateway)}: give the routing VM this static address on ${name}`,
      });
    }
    // Network and broadcast addresses are never a VM's; the router's address is only if a VM holds it.
    const routerHeld = network.claimed.has(network.router);
    const capacity = Math.max(0, networkSize(network) - 2 - (routerHeld ? 0 : 1));
    if (network.guests > capacity) {
      issues.push({
        path: ['networks', network.index, 'cidr'],
        message: `${name} has addresses for ${capacity} VMs but ${network.guests} attach to it`,
      });
    }
  }
  return issues;
}
