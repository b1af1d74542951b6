import { durationSeconds } from './duration';
import type { LabNetworkParsed, LabSpecParsed, LabVmParsed } from './lab-schema';
import { defaultSizes, OS_PROFILES, type OsName } from './os-profiles';
import { type CloudInit, type ProvisionStep, resolveCloudInit, type TemplateRef } from './vm-pieces';

/** A VM's NIC on a lab network; without `ip`, Glassdome assigns one (`labAddressing`). */
export interface VmNetworkAttachment {
  name: string;
  ip?: string;
}

/** A VM entry with every default applied: what the installer deploys. */
export interface LabVm {
  name: string;
  os?: OsName;
  template?: TemplateRef;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  /** Present when the entry stands for `count` VMs named {name}-1 … {name}-N. */
  count?: number;
  networks: VmNetworkAttachment[];
  cloudInit: CloudInit;
  provision: ProvisionStep[];
  dependsOn: string[];
}

/**
 * What guests on a network may reach outside the lab: nothing, anything public, or the listed
 * destinations (`[tcp/|udp/]ADDRESS[/PREFIX]:PORT[-PORT]`, `icmp/ADDRESS[/PREFIX]`; see
 * `parseEgressEntry`).
 */
export type EgressPolicy = 'allow' | 'deny' | string[];

export interface LabNetwork {
  name: string;
  cidr: string;
  egress: EgressPolicy;
  /** The router's address on this network; a VM holding it statically is the lab's router there. */
  gateway?: string;
  /** Whether VMs on this network reach each other without a rule. */
  intra: 'allow' | 'deny';
}

/** Traffic `from` (a network or VM entry) may start towards `to`, on `ports` (`tcp/80`, `icmp`, …). */
export interface LabRule {
  from: string;
  to: string;
  ports: string[];
}

/** A valid lab spec with every default applied. */
export interface LabSpec {
  name: string;
  description?: string;
  ttl: string;
  ttlSeconds: number;
  copies: number;
  onFailure: 'fail' | 'keep';
  networks: LabNetwork[];
  /** Traffic allowed beyond the defaults (inside a network: allowed; between networks: dropped). */
  rules: LabRule[];
  vms: LabVm[];
}

function resolveVm(vm: LabVmParsed): LabVm {
  const sizes = defaultSizes(vm.os);
  const resolved: LabVm = {
    name: vm.name,
    cpus: vm.cpus ?? sizes.cpus,
    memoryMiB: vm.memoryMiB ?? sizes.memoryMiB,
    diskGiB: vm.diskGiB ?? sizes.diskGiB,
    networks: vm.networks.map((entry) => {
      if (typeof entry === 'string') return { name: entry };
      return entry.ip === undefined ? { name: entry.name } : { name: entry.name, ip: entry.ip };
    }),
    // Validation guarantees cloudInit.user when there is no os.
    cloudInit: resolveCloudInit(vm.cloudInit, vm.os ? OS_PROFILES[vm.os].defaultUser : ''),
    provision: vm.provision,
    dependsOn: [...new Set(vm.dependsOn)],
  };
  if (vm.os !== undefined) resolved.os = vm.os;
  if (vm.template !== undefined) resolved.template = vm.template;
  if (vm.count !== undefined) resolved.count = vm.count;
  return resolved;
}

function resolveNetwork(network: LabNetworkParsed): LabNetwork {
  const resolved: LabNetwork = {
    name: network.name,
    cidr: network.cidr,
    egress: Array.isArray(network.egress) ? [...new Set(network.egress)] : network.egress,
    intra: network.intra,
  };
  if (network.gateway !== undefined) resolved.gateway = network.gateway;
  return resolved;
}

/** Applies OS-profile defaults and normalises shorthand; only for specs that passed validation. */
export function resolveLabSpec(spec: LabSpecParsed): LabSpec {
  const resolved: LabSpec = {
    name: spec.name,
    ttl: spec.ttl,
    ttlSeconds: durationSeconds(spec.ttl)!,
    copies: spec.copies,
    onFailure: spec.onFailure,
    networks: spec.networks.map(resolveNetwork),
    rules: spec.rules.map((rule) => ({ from: rule.from, to: rule.to, ports: [...new Set(rule.ports)] })),
    vms: spec.vms.map(resolveVm),
  };
  if (spec.description !== undefined) resolved.description = spec.description;
  return resolved;
}
