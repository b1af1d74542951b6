/**
 * Facts about a lab spec as the API's dry run answers it (normalised: every default filled in), for
 * plans and diffs: what it would deploy and hold, in the units quotas count.
 */

export interface NormalisedVm {
  name: string;
  os?: string;
  template?: number | string;
  count?: number;
  cpus?: number;
  memoryMiB?: number;
  diskGiB?: number;
  networks?: unknown[];
  dependsOn?: string[];
  [field: string]: unknown;
}

export interface NormalisedNetwork {
  name: string;
  cidr?: string;
  [field: string]: unknown;
}

export interface NormalisedSpec {
  name: string;
  copies?: number;
  ttlSeconds?: number;
  onFailure?: string;
  networks: NormalisedNetwork[];
  vms: NormalisedVm[];
  rules?: unknown[];
  [field: string]: unknown;
}

/** What a lab holds once deployed, over all its copies. */
export interface LabTotals {
  copies: number;
  /** VM instances over all copies. */
  vms: number;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  /** L2 segments (one per network per copy). */
  networks: number;
  ttlSeconds: number | null;
}

export function labTotals(spec: NormalisedSpec): LabTotals {
  const copies = spec.copies ?? 1;
  let vms = 0;
  let vcpus = 0;
  let memoryMiB = 0;
  let diskGiB = 0;
  for (const vm of spec.vms) {
    const count = vm.count ?? 1;
    vms += count;
    vcpus += count * (vm.cpus ?? 0);
    memoryMiB += count * (vm.memoryMiB ?? 0);
    diskGiB += count * (vm.diskGiB ?? 0);
  }
  return {
    copies,
    vms: vms * copies,
    vcpus: vcpus * copies,
    memoryMiB: memoryMiB * copies,
    diskGiB: diskGiB * copies,
    networks: spec.networks.length * copies,
    ttlSeconds: spec.ttlSeconds ?? null,
  };
}

/**
 * A normalised spec in the form a user writes (and the API accepts back): the dry run adds derived
 * fields (`ttlSeconds` beside `ttl`) that a spec itself may not carry.
 */
export function editableSpec(spec: NormalisedSpec): NormalisedSpec {
  const { ttlSeconds: _derived, ...editable } = spec;
  return editable as NormalisedSpec;
}
