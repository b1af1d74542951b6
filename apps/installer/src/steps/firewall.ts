/**
 * A lab VM's Proxmox firewall, applied before the VM first starts: the objects `compileLabFirewall`
 * makes of the lab's policy for this VM (options, IPSets, rules on each NIC), written through the
 * API, replacing whatever the VM had. Standalone VMs keep no firewall of their own.
 *
 * What was applied is recorded as the `firewall` step's detail: the objects' digest and the VM's
 * `netN` lines with their digest (a NIC without `firewall=1`, or on another segment, escapes the
 * objects). The overseer compares both with what Proxmox holds; `restoreFirewall` puts both back.
 */
import { getLabExtras, type JsonValue, listSteps, listStepsOfVms, setStepDetail } from '@glassdome/db';
import {
  compileLabFirewall,
  type LabSpec,
  nicLines,
  type VmFirewall,
  vmFirewallDigest,
  vmNicDigest,
  withEgressOverride,
} from '@glassdome/lab';
import { loadLabSpec, testingOf } from '@glassdome/lab-run';
import { PermanentError } from '@glassdome/queue';
import type { InstallerContext } from '../context';
import type { VmRow } from '../vm-record';
import { keepConfig, keptConfig } from './guest-trust';

/** The `firewall` step's detail: what Glassdome applied to the VM, for the overseer to compare. */
export interface AppliedFirewall {
  rules: number;
  ipsets: number;
  /** `vmFirewallDigest` of the objects applied; null while they are being replaced (nothing to compare yet). */
  digest: string | null;
  /** When this record was written: a scan that read an older one compares nothing. */
  appliedAt?: string;
  /** The VM's `netN` lines as applied, and their `vmNicDigest`. */
  nics?: Record<string, string>;
  nicDigest?: string;
}

/** The firewall context every lab copy is compiled with: where Glassdome reaches guests from. */
export function firewallContext(ctx: InstallerContext, labId: string, copy: number) {
  return {
    management: {
      sources: ctx.env.MANAGEMENT_SOURCES.split(','),
      guestCidr: ctx.env.MANAGEMENT_CIDR,
      sshPort: ctx.env.GUEST_SSH_PORT,
    },
    tag: `${labId.slice(0, 8)}.c${copy}`,
  };
}

/**
 * Each copy's compiled firewall, by the spec object `loadLabSpec` hands out for its lab (the same one
 * for every VM of the lab): the whole lab is compiled once per copy, not once per VM.
 */
const compiledCopies = new WeakMap<LabSpec, Map<number, ReturnType<typeof compileLabFirewall>>>();

function compiledCopy(ctx: InstallerContext, spec: LabSpec, labId: string, copy: number) {
  let copies = compiledCopies.get(spec);
  if (!copies) {
    copies = new Map();
    compiledCopies.set(spec, copies);
  }
  let compiled = copies.get(copy);
  if (!compiled) {
    compiled = compileLabFirewall(spec, firewallContext(ctx, labId, copy));
    copies.set(copy, compiled);
  }
  return compiled;
}

export async function applyFirewall(
  ctx: InstallerContext,
  vm: VmRow,
  options: { spec?: LabSpec; nics?: Record<string, string> } = {},
): Promise<JsonValue> {
  if (!vm.lab_id) return { skipped: 'standalone VM' };
  const spec = options.spec ?? (await loadLabSpec(ctx.db, vm.lab_id));
  const compiled = compiledCopy(ctx, spec, vm.lab_id, vm.copy ?? 0);
  const mine = compiled.vms.find((entry) => entry.vm === vm.name);
  if (!mine) throw new PermanentError(`the lab's firewall has no entry for ${vm.name}`);
  await ctx.pve.firewall.replace(vm.vmid!, { ...mine, options: { ...mine.options } }, vm.node);
  let nics = options.nics;
  if (!nics) {
    // The NICs as this attempt's `configure` wrote them, else as Proxmox holds them.
    let config = keptConfig(vm);
    if (!config) {
      config = await ctx.pve.vms.config(vm.vmid!, vm.node);
      keepConfig(vm, config);
    }
    nics = nicLines(config.raw);
  }
  return appliedDetail(mine, nics) as unknown as JsonValue;
}

function appliedDetail(firewall: VmFirewall, nics: Record<string, string> | undefined): AppliedFirewall {
  return {
    rules: firewall.rules.length,
    ipsets: firewall.ipsets.length,
    digest: vmFirewallDigest(firewall),
    appliedAt: new Date().toISOString(),
    ...(nics ? { nics, nicDigest: vmNicDigest(nics) } : {}),
  };
}

/**
 * Before a ready VM's firewall is replaced: its record says nothing is to be compared until the new
 * one is written (a scan reading the firewall half-replaced must not take it for drift).
 */
export async function markFirewallApplying(ctx: InstallerContext, vm: { id: string; lab_id: string | null }) {
  const before = await appliedFirewall(ctx, vm);
  if (!before) return;
  const detail: AppliedFirewall = { ...before, digest: null, appliedAt: new Date().toISOString() };
  await setStepDetail(ctx.db, { vmId: vm.id, labId: vm.lab_id }, 'firewall', detail as unknown as JsonValue);
}

/** When the firewall of any of `vms` was last written (ms since the epoch; 0 if never): one query for all. */
export async function lastFirewallWrite(ctx: InstallerContext, vms: readonly { id: string }[]): Promise<number> {
  const steps = await listStepsOfVms(
    ctx.db,
    vms.map((vm) => vm.id),
  );
  let last = 0;
  for (const rows of steps.values()) {
    const detail = rows.find((row) => row.name === 'firewall')?.detail as Partial<AppliedFirewall> | null | undefined;
    if (typeof detail?.appliedAt === 'string') last = Math.max(last, Date.parse(detail.appliedAt));
  }
  return last;
}

/** What the VM's `firewall` step recorded, if anything. */
export async function appliedFirewall(
  ctx: InstallerContext,
  vm: { id: string; lab_id: string | null },
): Promise<AppliedFirewall | undefined> {
  const step = (await listSteps(ctx.db, { vmId: vm.id, labId: vm.lab_id })).find((row) => row.name === 'firewall');
  const detail = step?.detail as Partial<AppliedFirewall> | null | undefined;
  return detail && 'digest' in detail ? (detail as AppliedFirewall) : undefined;
}

/**
 * Records `firewall` (applied to the VM by someone else than `applyFirewall`: testing mode) as what
 * the VM should hold, keeping the NICs recorded at deploy.
 */
export async function recordAppliedFirewall(
  ctx: InstallerContext,
  vm: { id: string; lab_id: string | null },
  firewall: VmFirewall,
): Promise<void> {
  const before = await appliedFirewall(ctx, vm);
  const detail = appliedDetail(firewall, before?.nics);
  await setStepDetail(ctx.db, { vmId: vm.id, labId: vm.lab_id }, 'firewall', detail as unknown as JsonValue);
}

/** The spec the VM's firewall compiles from now: the lab's own, or testing mode's wider egress while it lasts. */
export async function effectiveLabSpec(ctx: InstallerContext, labId: string): Promise<LabSpec> {
  const spec = await loadLabSpec(ctx.db, labId);
  const testing = testingOf((await getLabExtras(ctx.db, labId))?.testing);
  return testing ? withEgressOverride(spec, testing.egress, testing.networks) : spec;
}
