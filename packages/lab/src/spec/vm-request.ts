import { z } from 'zod';
import { contains, formatIpv4, parseCidr, parseIpv4 } from './ipv4';
import { fromZodIssues, type ParseResult, type SpecIssue } from './issues';
import { resourceName } from './names';
import { OS_PROFILES, type OsName, osName } from './os-profiles';
import { checkOsMinimums } from './vm-checks';
import {
  type CloudInit,
  cloudInit,
  cpus,
  diskGiB,
  memoryMiB,
  type ProvisionStep,
  provision,
  resolveCloudInit,
  type TemplateRef,
  templateRef,
} from './vm-pieces';

const staticAddress = z
  .string()
  .refine(
    (value) => value === 'dhcp' || (parseCidr(value)?.prefix ?? 0) >= 8,
    'must be "dhcp" or an address with its prefix, e.g. 192.168.1.50/24',
  );

/**
 * A standalone VM names no bridge, VNet or VLAN: it goes on the default network. Lab networks are
 * made per lab copy and are not joinable from outside the lab (a guessed tag would otherwise put a
 * VM on a class's "isolated" segment).
 */
const notJoinable = (what: string) =>
  z
    .unknown()
    .refine(
      () => false,
      `standalone VMs cannot name a ${what}: they go on the default network (lab networks belong to their lab)`,
    )
    .optional();

/**
 * Where a single VM's NIC goes: the default network, or the named network an admin gave its project
 * (`POST /networks`), with DHCP or a static address.
 */
export const vmRequestNetwork = z
  .strictObject({
    bridge: notJoinable('bridge or VNet'),
    vlan: notJoinable('VLAN'),
    /** A network of the VM's project (`GET /networks`); the API checks it exists there. */
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a network name: lowercase letters, digits and dashes')
      .optional(),
    /** "dhcp" or a static address with prefix. @defaultValue 'dhcp' */
    ip: staticAddress.default('dhcp'),
    /** Default gateway; only with a static address, and inside its network. */
    gateway: z
      .string()
      .refine((value) => parseIpv4(value) !== undefined, 'must be an IPv4 address')
      .optional(),
  })
  .superRefine((network, ctx) => {
    if (network.gateway === undefined) return;
    const address = parseCidr(network.ip);
    const gateway = parseIpv4(network.gateway)!;
    if (!address) {
      ctx.addIssue({ code: 'custom', path: ['gateway'], message: 'needs a static ip' });
    } else if (!contains(address, gateway)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway'],
        message: `is outside ${formatIpv4(address.base)}/${address.prefix}`,
      });
    }
  });

/** `POST /api/v1/vms`: one VM, built from the same pieces as a lab's VMs. */
export const vmRequestSchema = z.strictObject({
  name: resourceName,
  os: osName,
  /** Clone this template instead of the OS's default one. */
  template: templateRef.optional(),
  cpus: cpus.optional(),
  memoryMiB: memoryMiB.optional(),
  diskGiB: diskGiB.optional(),
  network: vmRequestNetwork.optional(),
  cloudInit: cloudInit.optional(),
  provision: provision.default([]),
});

export type VmRequestInput = z.input<typeof vmRequestSchema>;

/** A single-VM request with every default applied. */
export interface VmRequest {
  name: string;
  os: OsName;
  template?: TemplateRef;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  network: z.output<typeof vmRequestNetwork>;
  cloudInit: CloudInit;
  provision: ProvisionStep[];
}

/** Validates a `POST /api/v1/vms` body and fills in the OS profile's defaults. Never throws. */
export function parseVmRequest(input: unknown): ParseResult<'vm', VmRequest> {
  const shaped = vmRequestSchema.safeParse(input);
  if (!shaped.success) return { ok: false, issues: fromZodIssues(shaped.error.issues) };
  const body = shaped.data;
  const issues: SpecIssue[] = checkOsMinimums(body, []);
  if (issues.length > 0) return { ok: false, issues };
  const profile = OS_PROFILES[body.os];
  const vm: VmRequest = {
    name: body.name,
    os: body.os,
    cpus: body.cpus ?? profile.cpus,
    memoryMiB: body.memoryMiB ?? profile.memoryMiB,
    diskGiB: body.diskGiB ?? profile.diskGiB,
    network: body.network ?? { ip: 'dhcp' },
    cloudInit: resolveCloudInit(body.cloudInit, profile.defaultUser),
    provision: body.provision,
  };
  if (body.template !== undefined) vm.template = body.template;
  return { ok: true, vm };
}
