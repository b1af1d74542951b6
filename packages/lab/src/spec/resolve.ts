import { durationSeconds } from './duration';
import type { LabSpecParsed, LabVmParsed } from './lab-schema';
import { defaultSizes, OS_PROFILES, type OsName } from './os-profiles';
import { type CloudInit, type ProvisionStep, resolveCloudInit, type TemplateRef } from './vm-pieces';

/** A VM's NIC on a lab network; without `ip` the guest takes an address by DHCP. */
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

export interface LabNetwork {
  name: string;
  cidr: string;
  egress: 'allow' | 'deny';
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

/** Applies OS-profile defaults and normalises shorthand; only for specs that passed validation. */
export function resolveLabSpec(spec: LabSpecParsed): LabSpec {
  const resolved: LabSpec = {
    name: spec.name,
    ttl: spec.ttl,
    ttlSeconds: durationSeconds(spec.ttl)!,
    copies: spec.copies,
    onFailure: spec.onFailure,
    networks: spec.networks.map((network) => ({ ...network })),
    vms: spec.vms.map(resolveVm),
  };
  if (spec.description !== undefined) resolved.description = spec.description;
  return resolved;
}
