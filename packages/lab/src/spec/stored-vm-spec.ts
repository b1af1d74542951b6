/**
 * What a VM row's `spec` column holds, for standalone and lab VMs alike: written only through
 * `storedVmSpec` (by the API's VM deploy and its lab deploy, stored with `toStoredJson` of
 * `@glassdome/db`) and read back only through `parseStoredVmSpec`, so the row is parsed, never cast.
 */
import { z } from 'zod';
import type { VmAddressing } from '../network/addressing';
import { osName } from './os-profiles';
import type { LabVm } from './resolve';
import { parseStored } from './stored-lab-spec';
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
  /**
   * A standalone VM on a project's named network: what its first NIC names (resolved by the API when
   * the VM was asked for); its management NIC follows on the default network.
   */
  attachment: z
    .object({ networkId: z.string().uuid(), name: z.string(), bridge: z.string(), tag: z.number().int().optional() })
    .optional(),
  /**
   * A lab VM's NICs, one per lab network in spec order (`net0`…): the address Glassdome assigned
   * (`10.10.0.10/24`; static from the spec or allocated, the same in every copy) and the network's
   * gateway when it has one. The management NIC comes after them.
   */
  networks: z
    .array(z.object({ name: z.string().min(1), ip: z.string().optional(), gateway: z.string().optional() }))
    .optional(),
  /** A lab VM's routes to lab networks it is not on, through a router on one of its networks. */
  routes: z.array(z.object({ to: z.string(), via: z.string() })).optional(),
  /** The lab networks whose gateway address this VM holds: it forwards between its networks. */
  routerFor: z.array(z.string()).optional(),
});

export type StoredVmSpec = z.output<typeof storedVmSpecSchema>;

/** The stored form of a validated single-VM request, or of a lab VM with its addressing. */
export function storedVmSpec(source: VmRequest | LabVm, addressing?: VmAddressing): StoredVmSpec {
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
  if ('networks' in source) {
    spec.networks = source.networks.map((attachment, index) => {
      const nic = addressing?.nics[index];
      if (!nic) return { ...attachment };
      return {
        name: attachment.name,
        ip: `${nic.address}/${nic.prefix}`,
        ...(nic.gateway === undefined ? {} : { gateway: nic.gateway }),
      };
    });
  }
  if (addressing && addressing.routes.length > 0) {
    spec.routes = addressing.routes.map((route) => ({ to: route.to, via: route.via }));
  }
  if (addressing && addressing.routerFor.length > 0) spec.routerFor = [...addressing.routerFor];
  return spec;
}

/** Parses a VM row's `spec`; a row that does not hold a stored spec is an error, not a guess. */
export function parseStoredVmSpec(json: unknown): StoredVmSpec {
  return parseStored('VM spec', storedVmSpecSchema.safeParse(json));
}
