import { z } from 'zod';
import { DURATION_PATTERN } from './duration';
import { parseCidr, parseIpv4 } from './ipv4';
import { resourceName } from './names';
import { osName } from './os-profiles';
import {
  EGRESS_ENTRY_PATTERN,
  forbiddenEgressRange,
  formatNetwork,
  PORT_SPEC_PATTERN,
  parseEgressEntry,
  parsePortSpec,
} from './policy';
import { cloudInit, cpus, diskGiB, memoryMiB, provision, templateRef } from './vm-pieces';

/** Most VM entries in one spec, before `count` and `copies` multiply them. */
export const MAX_SPEC_VMS = 100;
/** Most networks in one spec. */
export const MAX_SPEC_NETWORKS = 32;
/** Most NICs on one VM. */
export const MAX_VM_NETWORKS = 8;
/** Upper bound on `count` and `copies` whatever the quotas say, so a spec's size is always bounded. */
export const MAX_MULTIPLIER = 100;
/** Most entries in `rules`. */
export const MAX_SPEC_RULES = 200;
/** Most entries in one rule's `ports`. */
export const MAX_RULE_PORTS = 32;
/** Most entries in one network's egress list. */
export const MAX_EGRESS_ENTRIES = 32;

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

const ipv4Address = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3}){3}$/, { message: 'must be an IPv4 address, e.g. 10.10.0.10', abort: true })
  .refine((value) => parseIpv4(value) !== undefined, 'must be an IPv4 address, e.g. 10.10.0.10');

const egressEntry = z
  .string()
  .regex(new RegExp(EGRESS_ENTRY_PATTERN), {
    message: 'must be [tcp/|udp/]ADDRESS[/PREFIX]:PORT[-PORT] or icmp/ADDRESS[/PREFIX], e.g. 203.0.113.5:443',
    abort: true,
  })
  .superRefine((value, ctx) => {
    const parsed = parseEgressEntry(value);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return;
    }
    const forbidden = forbiddenEgressRange(parsed.value.network);
    if (forbidden !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${formatNetwork(parsed.value.network)} lies in ${forbidden}, which egress never reaches (private, loopback, link-local and reserved ranges stay closed)`,
      });
    }
  });

/** `deny`, `allow`, or the destinations outside the lab that guests on the network may reach. */
export const egressPolicy = z
  .union(
    [
      z.enum(['allow', 'deny']),
      z
        .array(egressEntry)
        .min(1, 'an empty list denies everything: write deny')
        .max(MAX_EGRESS_ENTRIES, `at most ${MAX_EGRESS_ENTRIES} entries`),
    ],
    { error: 'must be allow, deny or a list of destinations such as 203.0.113.5:443' },
  )
  .describe(
    'what guests on this network may reach outside the lab: deny, allow (anything but private, loopback, link-local and reserved ranges), or a list of [tcp/|udp/]ADDRESS[/PREFIX]:PORT[-PORT] and icmp/ADDRESS[/PREFIX]',
  );

export const labNetwork = z.strictObject({
  name: resourceName,
  cidr,
  egress: egressPolicy.default('deny'),
  gateway: ipv4Address
    .optional()
    .describe(
      "the router's address on this network (a lab VM holding it routes); VMs route the lab's other networks through it",
    ),
  intra: z
    .enum(['allow', 'deny'])
    .default('allow')
    .describe('allow: VMs on this network reach each other freely; deny: only as rules allow'),
});

/**
 * A VM's attachment to a lab network: a name (Glassdome assigns the address, the same in every
 * copy), or {name, ip?} with an optional static address (the long form is also what a resolved spec
 * holds, so it parses again).
 */
export const vmNetworkRef = z
  .union([resourceName, z.strictObject({ name: resourceName, ip: ipv4Address.optional() })], {
    error: 'must be a network name or {name, ip}',
  })
  .describe('a declared network by name (Glassdome assigns the address), or {name, ip} with a static address');

const portSpec = z
  .string()
  .regex(new RegExp(PORT_SPEC_PATTERN), {
    message: 'must be tcp/PORT, udp/PORT, tcp/LOW-HIGH, udp/LOW-HIGH or icmp',
    abort: true,
  })
  .superRefine((value, ctx) => {
    const parsed = parsePortSpec(value);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
  });

/** Traffic one network or VM may start towards another, beyond what the defaults allow. */
export const labRule = z.strictObject({
  from: resourceName.describe('a network or VM (entry name) of this lab that starts the traffic'),
  to: resourceName.describe('a network or VM (entry name) of this lab the traffic goes to'),
  ports: z
    .array(portSpec)
    .min(1, 'a rule needs at least one port')
    .max(MAX_RULE_PORTS, `at most ${MAX_RULE_PORTS} entries`)
    .describe('what is opened: tcp/PORT, udp/PORT, tcp/LOW-HIGH, udp/LOW-HIGH or icmp'),
});

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
  rules: z
    .array(labRule)
    .max(MAX_SPEC_RULES, `at most ${MAX_SPEC_RULES} rules`)
    .default([])
    .describe('traffic allowed between networks and VMs; everything between networks not listed is dropped'),
  vms: z.array(labVm).min(1, 'a lab needs at least one VM').max(MAX_SPEC_VMS, `at most ${MAX_SPEC_VMS} VM entries`),
});

export type LabSpecInput = z.input<typeof labSpecSchema>;
export type LabSpecParsed = z.output<typeof labSpecSchema>;
export type LabVmParsed = z.output<typeof labVm>;
export type LabNetworkParsed = z.output<typeof labNetwork>;
export type LabRuleParsed = z.output<typeof labRule>;
