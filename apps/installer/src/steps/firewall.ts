/**
 * A lab VM's Proxmox firewall, applied before the VM first starts: the objects `compileLabFirewall`
 * makes of the lab's policy for this VM (options, IPSets, rules on each NIC), written through the
 * API, replacing whatever the VM had. Standalone VMs keep no firewall of their own.
 */
import type { JsonValue } from '@glassdome/db';
import { compileLabFirewall, type LabSpec, vmFirewallDigest } from '@glassdome/lab';
import { loadLabSpec } from '@glassdome/lab-run';
import { PermanentError } from '@glassdome/queue';
import type { InstallerContext } from '../context';
import type { VmRow } from '../vm-record';

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

export async function applyFirewall(ctx: InstallerContext, vm: VmRow): Promise<JsonValue> {
  if (!vm.lab_id) return { skipped: 'standalone VM' };
  const spec = await loadLabSpec(ctx.db, vm.lab_id);
  const compiled = compiledCopy(ctx, spec, vm.lab_id, vm.copy ?? 0);
  const mine = compiled.vms.find((entry) => entry.vm === vm.name);
  if (!mine) throw new PermanentError(`the lab's firewall has no entry for ${vm.name}`);
  await ctx.pve.firewall.replace(vm.vmid!, { ...mine, options: { ...mine.options } }, vm.node);
  return { rules: mine.rules.length, ipsets: mine.ipsets.length, digest: vmFirewallDigest(mine) };
}
