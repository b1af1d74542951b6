import { appendEvent, type Db, inTransaction, listVmsOfLab, stepNamesIn } from '@glassdome/db';
import type { LabRunContext } from './context';
import { loadLab } from './lab-record';
import { afterLabSettled } from './operations';
import { moveLab, moveVmsOfLab } from './transitions';

/**
 * The lab's root job runs once every task it received has ended. VMs whose tasks never ran (a
 * dependency failed under the `keep` policy) are failed first, so none is left `queued`; then the lab
 * is `ready` when every VM is and no lab-wide task (the isolation check) failed, `degraded` when some
 * are, `failed` when none is. The first `ready` also requests the lab's `initial` snapshot.
 */
export async function settleLab(ctx: LabRunContext, labId: string) {
  const lab = await loadLab(ctx.db, labId);
  if (lab?.status !== 'deploying') return { labId, status: lab?.status ?? 'gone' };
  await moveVmsOfLab(ctx.db, labId, 'fail', { error: 'not deployed: a task it depends on failed' });
  const vms = await listVmsOfLab(ctx.db, labId);
  const ready = vms.filter((vm) => vm.status === 'ready').length;
  // A lab-wide task that failed (the isolation check) leaves the lab degraded at best.
  const failedLabTasks = await stepNamesIn(ctx.db, { labId }, 'failed');
  const status = ready === vms.length && failedLabTasks.length === 0 ? 'ready' : ready > 0 ? 'degraded' : 'failed';
  const summary = `${ready} of ${vms.length} VMs ready${failedLabTasks.length > 0 ? `; failed: ${failedLabTasks.join(', ')}` : ''}`;
  const transition = status === 'ready' ? 'settleReady' : status === 'degraded' ? 'settleDegraded' : 'settleFailed';
  // The first `ready` requests the lab's `initial` snapshot in the same transaction (see afterLabSettled).
  const moved = await inTransaction(ctx.db, async (trx) => {
    if (!(await moveLab(trx, labId, transition, { error: status === 'ready' ? null : summary }))) return false;
    await appendEvent(trx, { labId, kind: `lab.${status}`, message: `lab ${status}: ${summary}` });
    await afterLabSettled(trx, labId, status);
    return true;
  });
  if (!moved) return { labId, status: (await loadLab(ctx.db, labId))?.status ?? 'gone' };
  return { labId, status };
}

/**
 * VMs of a failed or cancelled lab that are still `queued` or `deploying` move with it (`fail` /
 * `cancel`); returns the ids that moved. Labs being torn down leave their VMs to the tear-down.
 */
export async function settleVmsOfStoppedLab(db: Db, labId: string): Promise<string[]> {
  const lab = await loadLab(db, labId);
  if (lab?.status === 'failed') {
    return moveVmsOfLab(db, labId, 'fail', { error: `lab failed${lab.error ? ` (${lab.error})` : ''}` });
  }
  if (lab?.status === 'cancelled') return moveVmsOfLab(db, labId, 'cancel', { error: 'lab cancelled' });
  return [];
}
