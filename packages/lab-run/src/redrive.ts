/**
 * Re-driving rows that no job is working on (Redis lost the job, a crash fell between two writes, an
 * outage outlasted the retries): each action writes a fresh job's intent to the outbox in the same
 * transaction as its event, or fails the row with the reason, always through the named transitions.
 * The overseer's sweep decides which row gets which; these only act, and refuse rows that moved on.
 */
import {
  advanceLabRunKeepingFailures,
  appendEvent,
  type Db,
  getVm,
  inTransaction,
  touchLab,
  touchVm,
} from '@glassdome/db';
import { jobIntent } from '@glassdome/queue';
import { loadLab } from './lab-record';
import { destroyIntent, labRunIntent, writeIntent } from './outbox';
import { moveLab, moveVm, moveVmsOfLab } from './transitions';

/** The event kind every re-drive leaves, so the sweep can count them. */
export const REDRIVE_EVENT = 'redriven';

/** A standalone VM still `queued`/`deploying`: a fresh `vm.deploy` (it resumes at its first step not done). */
export async function redriveVmDeploy(db: Db, vmId: string, reason: string): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const vm = await getVm(trx, vmId);
    if (!vm || vm.lab_id || !['queued', 'deploying'].includes(vm.status)) return false;
    await writeIntent(trx, (n) => jobIntent('vm.deploy', { vmId }, `vm-deploy.${vmId}.r${n}`));
    // The row shows the re-drive was just made, so the next sweep leaves it to the job it was given.
    await touchVm(trx, vmId);
    await appendEvent(trx, { vmId, kind: REDRIVE_EVENT, message: `deploy re-driven: ${reason}` });
    return true;
  });
}

/** A VM (standalone) or a lab left `destroying`: a fresh tear-down job (tear-down is idempotent). */
export async function redriveDestroy(db: Db, kind: 'vm' | 'lab', id: string, reason: string): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const status = kind === 'vm' ? (await getVm(trx, id))?.status : (await loadLab(trx, id))?.status;
    if (status !== 'destroying') return false;
    await writeIntent(trx, destroyIntent(kind, id));
    await (kind === 'vm' ? touchVm(trx, id) : touchLab(trx, id));
    await appendEvent(trx, {
      ...(kind === 'vm' ? { vmId: id } : { labId: id }),
      kind: REDRIVE_EVENT,
      message: `tear-down re-driven: ${reason}`,
    });
    return true;
  });
}

/**
 * A lab still `queued`/`deploying` whose flow is gone: its next run, made of the tasks neither done nor
 * failed whose dependencies are done (tasks left running or skipped run again; failed ones stay
 * failed, and the run's root settles the lab around them).
 */
export async function redriveLab(db: Db, labId: string, reason: string): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const lab = await loadLab(trx, labId);
    if (!lab || !['queued', 'deploying'].includes(lab.status)) return false;
    const next = await advanceLabRunKeepingFailures(trx, labId);
    await writeIntent(trx, labRunIntent(lab, next));
    await appendEvent(trx, { labId, kind: REDRIVE_EVENT, message: `flow re-driven as run ${next.run}: ${reason}` });
    return true;
  });
}

/** A standalone VM re-driven too often without progress: `failed`, with the reason. */
export async function failStuckVm(db: Db, vmId: string, reason: string): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    if (!(await moveVm(trx, vmId, 'fail', { error: reason }))) return false;
    await appendEvent(trx, { vmId, kind: 'vm.failed', message: reason });
    return true;
  });
}

/** A lab that cannot be re-driven (or should have failed already): `failed` with its VMs in flight. */
export async function failStuckLab(db: Db, labId: string, reason: string): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    if (!(await moveLab(trx, labId, 'fail', { error: reason }))) return false;
    await moveVmsOfLab(trx, labId, 'fail', { error: `lab failed (${reason})` });
    await appendEvent(trx, { labId, kind: 'lab.failed', message: reason });
    return true;
  });
}
