import { appendEvent, setLabStatus } from '@glassdome/db';
import { loadLab, STOPPED_LAB_STATUSES } from '@glassdome/runtime';
import type { InstallerContext } from '../context';

/**
 * The lab's root job runs once every task it received has ended: the lab is `ready` when every VM
 * is, `degraded` when some are (the keep policy), `failed` when none is.
 */
export async function settleLab(ctx: InstallerContext, labId: string) {
  const lab = await loadLab(ctx.db, labId);
  if (!lab || STOPPED_LAB_STATUSES.has(lab.status)) return { labId, status: lab?.status ?? 'gone' };
  const vms = await ctx.db.selectFrom('vms').select(['status']).where('lab_id', '=', labId).execute();
  const ready = vms.filter((vm) => vm.status === 'ready').length;
  const status = ready === vms.length ? 'ready' : ready > 0 ? 'degraded' : 'failed';
  const summary = `${ready} of ${vms.length} VMs ready`;
  await setLabStatus(ctx.db, labId, status, { error: status === 'ready' ? null : summary });
  await appendEvent(ctx.db, { labId, kind: `lab.${status}`, message: `lab ${status}: ${summary}` });
  return { labId, status };
}
