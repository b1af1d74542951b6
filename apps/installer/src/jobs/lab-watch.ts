/**
 * What keeps a live lab contained after it was first checked: re-applying one VM's firewall as the
 * lab's policy compiles (the overseer's `restore-firewall` remediation, when what Proxmox holds no
 * longer matches the digest recorded at deploy), and running the lab's isolation check again (the
 * overseer's schedule). Neither changes the lab's status; the overseer reads what they record.
 */
import { appendEvent, setStepDetail } from '@glassdome/db';
import { loadLab } from '@glassdome/lab-run';
import { type JobContext, PermanentError } from '@glassdome/queue';
import type { InstallerContext } from '../context';
import { applyFirewall } from '../steps/firewall';
import { loadVm } from '../vm-record';
import { runIsolationCheck } from './lab-isolation';

/** `vm.firewall`: the VM's firewall back to what its lab's policy compiles to. */
export async function restoreFirewall(ctx: InstallerContext, vmId: string) {
  const vm = await loadVm(ctx.db, vmId);
  if (!vm?.lab_id || vm.vmid === null || vm.status !== 'ready') return { vmId, skipped: 'not a ready lab VM' };
  const applied = await applyFirewall(ctx, vm);
  await setStepDetail(ctx.db, { vmId: vm.id, labId: vm.lab_id }, 'firewall', applied);
  await appendEvent(ctx.db, {
    labId: vm.lab_id,
    vmId: vm.id,
    kind: 'vm.firewall.restored',
    message: `${vm.name}'s firewall re-applied as the lab's policy compiles`,
  });
  return { vmId, restored: true };
}

/** `lab.verify`: the isolation check again; a disagreement is recorded (and alerted on), not thrown. */
export async function reverifyLab(ctx: InstallerContext, labId: string, context: JobContext) {
  const lab = await loadLab(ctx.db, labId);
  if (!lab || (lab.status !== 'ready' && lab.status !== 'degraded')) return { labId, skipped: 'not live' };
  try {
    return await runIsolationCheck(ctx, lab, context.signal);
  } catch (error) {
    if (error instanceof PermanentError) return { labId, agreed: false, error: error.message };
    throw error;
  }
}
