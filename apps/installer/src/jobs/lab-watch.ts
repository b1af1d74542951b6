/**
 * What keeps a live lab contained after it was first checked: re-applying one VM's firewall as the
 * lab's policy compiles (the overseer's `restore-firewall` remediation, when what Proxmox holds no
 * longer matches the digest recorded at deploy), and running the lab's isolation check again (the
 * overseer's schedule). Neither changes the lab's status; the overseer reads what they record.
 */
import { appendEvent, getLabExtras, setStepDetail } from '@glassdome/db';
import { nicLines, vmNicDigest } from '@glassdome/lab';
import { loadLab, testingOf } from '@glassdome/lab-run';
import { type JobContext, PermanentError } from '@glassdome/queue';
import type { InstallerContext } from '../context';
import { appliedFirewall, applyFirewall, effectiveLabSpec, markFirewallApplying } from '../steps/firewall';
import { loadVm, type VmRow } from '../vm-record';
import { runIsolationCheck } from './lab-isolation';

/**
 * `vm.firewall`: the VM's NICs back to the `netN` lines recorded when it was deployed (a NIC whose
 * `firewall=1` was taken off, moved to another segment, or added since), then its firewall objects
 * back to what its lab's policy compiles to (with testing mode's wider egress while that lasts).
 */
export async function restoreFirewall(ctx: InstallerContext, vmId: string) {
  const vm = await loadVm(ctx.db, vmId);
  if (!vm?.lab_id || vm.vmid === null || vm.status !== 'ready') return { vmId, skipped: 'not a ready lab VM' };
  const recorded = (await appliedFirewall(ctx, vm))?.nics;
  await markFirewallApplying(ctx, vm);
  const nicsRestored = recorded ? await restoreNics(ctx, vm, recorded) : [];
  const applied = await applyFirewall(ctx, vm, { spec: await effectiveLabSpec(ctx, vm.lab_id), nics: recorded });
  await setStepDetail(ctx.db, { vmId: vm.id, labId: vm.lab_id }, 'firewall', applied);
  await appendEvent(ctx.db, {
    labId: vm.lab_id,
    vmId: vm.id,
    kind: 'vm.firewall.restored',
    message: `${vm.name}'s firewall re-applied as the lab's policy compiles${nicsRestored.length > 0 ? `, and ${nicsRestored.join(', ')} as deployed` : ''}`,
    data: { nics: nicsRestored },
  });
  return { vmId, restored: true, nics: nicsRestored };
}

/** Sets each `netN` whose placement or filtering differs from the recorded line, and removes NICs added since. */
async function restoreNics(ctx: InstallerContext, vm: VmRow, recorded: Record<string, string>): Promise<string[]> {
  const held = nicLines((await ctx.pve.vms.config(vm.vmid!, vm.node)).raw);
  if (vmNicDigest(held) === vmNicDigest(recorded)) return [];
  const changed = Object.keys(recorded).filter(
    (key) => held[key] === undefined || vmNicDigest({ [key]: held[key] }) !== vmNicDigest({ [key]: recorded[key] }),
  );
  const added = Object.keys(held).filter((key) => recorded[key] === undefined);
  await ctx.pve.vms.updateConfig(
    vm.vmid!,
    {
      ...Object.fromEntries(changed.map((key) => [key, recorded[key]!])),
      ...(added.length > 0 ? { delete: added } : {}),
    },
    vm.node,
  );
  return [...changed, ...added].sort();
}

/** `lab.verify`: the isolation check again; a disagreement is recorded (and alerted on), not thrown. */
export async function reverifyLab(ctx: InstallerContext, labId: string, context: JobContext) {
  const lab = await loadLab(ctx.db, labId);
  if (!lab || (lab.status !== 'ready' && lab.status !== 'degraded')) return { labId, skipped: 'not live' };
  // Testing mode widens egress on purpose: the spec's matrix would call that a breach.
  if (testingOf((await getLabExtras(ctx.db, labId))?.testing)) return { labId, skipped: 'testing mode' };
  try {
    return await runIsolationCheck(ctx, lab, context.signal);
  } catch (error) {
    if (error instanceof PermanentError) return { labId, agreed: false, error: error.message };
    throw error;
  }
}
