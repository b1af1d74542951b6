/**
 * Lifecycle actions, called by the API (cancel, retry, destroy), the overseer (expire, re-clone) and
 * the installer (tear-down done). Each applies its named transition and, when it starts work, writes
 * the job's intent to the outbox in the same transaction: the state and the work to do commit
 * together, and the outbox relay moves the work to BullMQ.
 */
import {
  advanceLabRun,
  appendEvent,
  clearVmPlacement,
  type Db,
  deleteVmidLeasesOfOwner,
  getVm,
  inTransaction,
  resetAllSteps,
  resetUnfinishedVmSteps,
  setStepsStatus,
} from '@glassdome/db';
import { configureTaskId, type LabStatus, provisionTaskId } from '@glassdome/lab';
import { jobIntent } from '@glassdome/queue';
import { forgetLabCopyKeys } from '@glassdome/runtime';
import { type LabRecord, loadLab } from './lab-record';
import { destroyIntent, labRunIntent, writeIntent } from './outbox';
import { moveLab, moveVm, moveVmsOfLab } from './transitions';

export class LabTransitionRefused extends Error {
  constructor(
    readonly status: LabStatus | 'gone',
    message: string,
  ) {
    super(message);
    this.name = 'LabTransitionRefused';
  }
}

/** The next run of a lab's flow: which run, and the tasks already done (which it does not repeat). */
export interface LabRun {
  run: number;
  doneTasks: string[];
}

/**
 * Tear-down requested, in one transaction: the lab becomes `destroying` (its running tasks stop at
 * their next step) and a fresh `lab.destroy` job is written to the outbox. Returns its job id, or
 * undefined when the lab is gone or already destroyed.
 */
export async function requestLabDestroy(db: Db, labId: string, by: string, requestId?: string) {
  return inTransaction(db, async (trx) => {
    if (!(await moveLab(trx, labId, 'destroy'))) return undefined;
    const outboxId = await writeIntent(trx, destroyIntent('lab', labId, requestId));
    await appendEvent(trx, { labId, kind: 'lab.destroy-requested', message: `tear-down requested (${by})` });
    return `lab-destroy.${labId}.${outboxId}`;
  });
}

/** The same for a standalone VM: `destroying`, and a fresh `vm.destroy` job in the outbox. */
export async function requestVmDestroy(db: Db, vmId: string, requestId?: string) {
  return inTransaction(db, async (trx) => {
    if (!(await moveVm(trx, vmId, 'destroy'))) return undefined;
    const outboxId = await writeIntent(trx, destroyIntent('vm', vmId, requestId));
    return `vm-destroy.${vmId}.${outboxId}`;
  });
}

/**
 * Tear-down finished: every VM gone, every network removed and every lease released. The lab copies'
 * guest keys are forgotten with it (again on a repeated call: deleting none is harmless).
 */
export async function markLabDestroyed(db: Db, labId: string, summary: string): Promise<void> {
  await forgetLabCopyKeys(db, labId);
  if (await moveLab(db, labId, 'destroyed', { error: null })) {
    await appendEvent(db, { labId, kind: 'lab.destroyed', message: `destroyed: ${summary}` });
  }
}

/**
 * Cancel: the lab and every VM still in flight become `cancelled`; running tasks stop at their next
 * step. With `destroyVms`, a job then deletes every VM of the lab once its flow has ended (the lab
 * stays `cancelled`; deleting it releases its networks); otherwise the VMs stay as they are, for
 * inspection, until the lab is deleted. Returns that job's id.
 */
export async function cancelLab(
  db: Db,
  labId: string,
  options: { destroyVms?: boolean; requestId?: string } = {},
): Promise<string | undefined> {
  return inTransaction(db, async (trx) => {
    if (!(await moveLab(trx, labId, 'cancel'))) {
      const lab = await loadLab(trx, labId);
      throw new LabTransitionRefused(lab?.status ?? 'gone', `a ${lab?.status ?? 'missing'} lab cannot be cancelled`);
    }
    await moveVmsOfLab(trx, labId, 'cancel', { error: 'lab cancelled' });
    const vms = options.destroyVms ? 'its VMs will be deleted' : 'its VMs are kept until the lab is deleted';
    await appendEvent(trx, { labId, kind: 'lab.cancelled', message: `cancelled through the API; ${vms}` });
    if (!options.destroyVms) return undefined;
    const outboxId = await writeIntent(trx, (n) =>
      jobIntent('lab.release-vms', { labId, requestId: options.requestId }, `lab-release-vms.${labId}.${n}`),
    );
    return `lab-release-vms.${labId}.${outboxId}`;
  });
}

/**
 * Retry, in one transaction: the lab back to `deploying`, its failed or cancelled VMs back to
 * `queued` with their unfinished steps pending, and the next run of its flow written to the outbox.
 */
export async function retryLab(db: Db, lab: LabRecord, requestId?: string): Promise<LabRun & { requeued: number }> {
  return inTransaction(db, async (trx) => {
    const result = await prepareRetry(trx, lab);
    await writeIntent(trx, labRunIntent(lab, result, requestId));
    return result;
  });
}

async function prepareRetry(db: Db, lab: LabRecord): Promise<LabRun & { requeued: number }> {
  if (!(await moveLab(db, lab.id, 'retry', { error: null }))) {
    throw new LabTransitionRefused(
      lab.status,
      `a ${lab.status} lab cannot be retried; only failed or degraded labs can`,
    );
  }
  const vmIds = await moveVmsOfLab(db, lab.id, 'requeue', { error: null });
  await resetUnfinishedVmSteps(db, vmIds);
  const next = await advanceLabRun(db, lab.id);
  await appendEvent(db, {
    labId: lab.id,
    kind: 'lab.retry-requested',
    message: `retry requested for ${vmIds.length} failed VM(s) (run ${next.run})`,
  });
  return { ...next, requeued: vmIds.length };
}

/**
 * Re-deploys one VM of a live lab that vanished from the cluster: its record and steps go back to
 * the start, its two lab tasks are marked failed, and the lab's next run redoes exactly them.
 */
export async function recloneLabVm(db: Db, vmId: string): Promise<string> {
  return inTransaction(db, async (trx) => {
    const vm = await getVm(trx, vmId);
    if (!vm?.lab_id) throw new Error(`VM ${vmId} is not a lab VM`);
    const lab = await loadLab(trx, vm.lab_id);
    if (!lab) throw new Error(`lab ${vm.lab_id} is gone`);
    if (!(await moveLab(trx, lab.id, 'reclone', { error: null }))) {
      throw new LabTransitionRefused(lab.status, `a ${lab.status} lab's VMs are not re-cloned`);
    }
    await moveVm(trx, vm.id, 'reclone', { error: null });
    await clearVmPlacement(trx, vm.id);
    await deleteVmidLeasesOfOwner(trx, vm.id);
    await resetAllSteps(trx, { vmId: vm.id });
    const copy = vm.copy ?? 0;
    await setStepsStatus(
      trx,
      { labId: lab.id },
      [provisionTaskId(copy, vm.name), configureTaskId(copy, vm.name)],
      'failed',
    );
    const next = await advanceLabRun(trx, lab.id);
    await writeIntent(trx, labRunIntent(lab, next));
    return `re-cloning ${vm.name} of lab ${lab.name} (run ${next.run})`;
  });
}
