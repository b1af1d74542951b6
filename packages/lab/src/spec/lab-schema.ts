import { z } from 'zod';
import { DURATION_PATTERN } from './duration';
import { parseCidr, parseIpv4 } from './ipv4';
import { resourceName } from './names';
import { osName } from './os-profiles';
import { cloudInit, cpus, diskGiB, memoryMiB, provision, templateRef } from './vm-pieces';

/** Most VM entries in one spec, before `count` and `copies` multiply them. */
export const MAX_SPEC_VMS = 100;
/** Most networks in one spec. */
export const MAX_SPEC_NETWORKS = 32;
/** Most NICs on one VM. */
export const MAX_VM_NETWORKS = 8;
/** Upper bound on `count` and `copies` whatever the quotas say, so a spec's size is always bounded. */
export const MAX_MULTIPLIER = 100;

/** Smallest and largest lab network: /8 is far beyond any lab, /29 leaves 5 guest addresses. */
export const CIDR_PREFIX_RANGE = { min: 8, max: 29 } as const;

const cidr = z
  .string()
  // The pattern is for JSON Schema readers; the refinement below is the real check.
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, { message: 'must be an IPv4 CIDR, e.g. 10.10.0.0/24', abort: true })
  .superRefine((value, ctx) => {
    const parsed = parseCidr(value);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: 'must be an IPv4 CIDR, e.g. 10.10.0.0/24' });
    } else if (parsed.prefix < CIDR_PREFIX_RANGE.min || parsed.prefix > CIDR_PREFIX_RANGE.max) {
      ctx.addIssue({
        code: 'custom',
        message: `prefix must be /${CIDR_PREFIX_RANGE.min} to /${CIDR_PREFIX_RANGE.max}`,
      });
    } else if (parsed.address !== parsed.base) {
      ctx.addIssue({ code: 'custom', message: 'has host bits set: give the network address' });
    }
  })
  .describe('IPv4 network by its network address, /8 to /29, e.g. 10.10.0.0/24');

export const labNetwork = z.strictObject({
  name: resourceName,
  cidr,
  egress: z
    .enum(['allow', 'deny'])
    .default('deny')
    .describe('allow: guests may reach destinations outside the lab; deny: they may not'),
});

const ipv4Address = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3}){3}$/, { message: 'must be an IPv4 address, e.g. 10.10.0.10', abort: true })
  .refine((value) => parseIpv4(value) !== undefined, 'must be an IPv4 address, e.g. 10.10.0.10');

/**
 * A VM's attachment to a lab network: a name (the address comes from DHCP), or {name, ip?} with an
 * optional static address (the long form is also what a resolved spec holds, so it parses again).
 */
export const vmNetworkRef = z
  .union([resourceName, z.strictObject({ name: resourceName, ip: ipv4Address.optional() })], {
    error: 'must be a network name or {name, ip}',
  })
  .describe('a declared network by name (address by DHCP), or {name, ip} with a static address');

export const labVm = z.strictObject({
  name: resourceName,
  os: osName.optional().describe('OS to clone; chooses the template and the default sizes'),
  template: templateRef.optional().describe('clone this Proxmox template (VMID or name) instead of the OS default'),
  cpus: cpus.optional(),
  memoryMiB: memoryMiB.optional(),
  diskGiB: diskGiB.optional(),
  count: z.number().int().min(1).max(MAX_MULTIPLIER).optional().describe('N identical VMs named {name}-1 … {name}-N'),
  networks: z.array(vmNetworkRef).min(1, 'a VM needs at least one network').max(MAX_VM_NETWORKS),
  cloudInit: cloudInit.optional(),
  provision: provision.default([]),
  dependsOn: z
    .array(resourceName)
    .max(MAX_SPEC_VMS)
    .default([])
    .describe("VMs whose readiness this VM's post-configuration waits for (clone and boot do not wait)"),
});

/** The lab spec as a user writes it (YAML or JSON). Cross-field rules are checked after it, in `validate`. */
export const labSpecSchema = z.strictObject({
  name: resourceName,
  description: z.string().max(2000, 'must be at most 2000 characters').optional(),
  ttl: z
    .string()
    .regex(DURATION_PATTERN, 'must be minutes, hours or days, e.g. "30m", "8h", "2d"')
    .default('8h')
    .describe('how long the lab lives before it is torn down'),
  copies: z
    .number()
    .int()
    .min(1)
    .max(MAX_MULTIPLIER)
    .default(1)
    .describe('independent copies of the lab, each with its own networks (one per student)'),
  onFailure: z
    .enum(['fail', 'keep'])
    .default('fail')
    .describe('fail: a definitive failure fails the lab; keep: the lab ends "degraded" with what succeeded'),
  networks: z.array(labNetwork).max(MAX_SPEC_NETWORKS).default([]),
  vms: z.array(labVm).min(1, 'a lab needs at least one VM').max(MAX_SPEC_VMS, `at most ${MAX_SPEC_VMS} VM entries`),
});

export type LabSpecInput = z.input<typeof labSpecSchema>;
export type LabSpecParsed = z.output<typeof labSpecSchema>;
export type LabVmParsed = z.output<typeof labVm>;
