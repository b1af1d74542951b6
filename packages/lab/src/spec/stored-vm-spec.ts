/**
 * What a VM row's `spec` column holds, for standalone and lab VMs alike: written only through
 * `storedVmSpec` (by the API's VM deploy and its lab deploy) and read back only through
 * `parseStoredVmSpec` (by the installer), so the row is parsed, never cast.
 */
import { z } from 'zod';
import { osName } from './os-profiles';
import type { LabVm } from './resolve';
import { cpus, diskGiB, memoryMiB, provisionStep, sshPublicKey, templateRef } from './vm-pieces';
import { type VmRequest, vmRequestNetwork } from './vm-request';

export const storedVmSpecSchema = z.object({
  /** Absent for a VM built from a custom template with no OS profile. */
  os: osName.optional(),
  template: templateRef.optional(),
  cpus,
  memoryMiB,
  diskGiB,
  cloudInit: z.object({
    user: z.string().min(1),
    sshKeys: z.array(sshPublicKey),
    packages: z.array(z.string()),
    runcmd: z.array(z.string()),
  }),
  provision: z.array(provisionStep),
  /** A standalone VM's single NIC. */
  network: vmRequestNetwork.optional(),
  /** A lab VM's NICs, one per lab network in spec order (`ip` when the spec gave one). */
  networks: z.array(z.object({ name: z.string().min(1), ip: z.string().optional() })).optional(),
});

export type StoredVmSpec = z.output<typeof storedVmSpecSchema>;

export class StoredVmSpecError extends Error {
  constructor(readonly issues: string[]) {
    super(`stored VM spec is invalid: ${issues.join('; ')}`);
    this.name = 'StoredVmSpecError';
  }
}

/** The stored form of a validated single-VM request or lab VM. */
export function storedVmSpec(source: VmRequest | LabVm): StoredVmSpec {
  const spec: StoredVmSpec = {
    cpus: source.cpus,
    memoryMiB: source.memoryMiB,
    diskGiB: source.diskGiB,
    cloudInit: { ...source.cloudInit },
    provision: source.provision,
  };
  if (source.os !== undefined) spec.os = source.os;
  if (source.template !== undefined) spec.template = source.template;
  if ('network' in source) spec.network = source.network;
  if ('networks' in source) spec.networks = source.networks.map((n) => ({ ...n }));
  return spec;
}

/** Parses a VM row's `spec`; a row that does not hold a stored spec is an error, not a guess. */
export function parseStoredVmSpec(json: unknown): StoredVmSpec {
  const result = storedVmSpecSchema.safeParse(json);
  if (!result.success) {
    throw new StoredVmSpecError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return result.data;
}
