import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';
export type StepOwner = { vmId: string; labId?: string | null } | { vmId?: null; labId: string };

/** Records the planned steps of a VM or lab as pending (idempotent: existing steps are kept). */
export async function planSteps(db: Db, owner: StepOwner, names: string[]): Promise<void> {
  if (names.length === 0) return;
  await db
    .insertInto('steps')
    .values(names.map((name) => ({ vm_id: owner.vmId ?? null, lab_id: owner.labId ?? null, name, status: 'pending' })))
    .onConflict((oc) => oc.doNothing())
    .execute();
}

function ownerFilter(owner: StepOwner) {
  return owner.vmId
    ? sql<boolean>`vm_id = ${owner.vmId}`
    : sql<boolean>`vm_id IS NULL AND lab_id = ${owner.labId ?? null}`;
}

/** Marks a step running and counts the attempt. */
export async function startStep(db: Db, owner: StepOwner, name: string): Promise<void> {
  await db
    .updateTable('steps')
    .set((eb) => ({
      status: 'running',
      attempts: eb('attempts', '+', 1),
      started_at: sql`now()`,
      finished_at: null,
      error: null,
    }))
    .where(ownerFilter(owner))
    .where('name', '=', name)
    .execute();
}

export async function finishStep(
  db: Db,
  owner: StepOwner,
  name: string,
  outcome: { status: 'done' | 'failed' | 'skipped'; error?: string; detail?: JsonValue },
): Promise<void> {
  await db
    .updateTable('steps')
    .set({
      status: outcome.status,
      finished_at: sql`now()`,
      error: outcome.error ?? null,
      ...(outcome.detail === undefined ? {} : { detail: JSON.stringify(outcome.detail) }),
    })
    .where(ownerFilter(owner))
    .where('name', '=', name)
    .execute();
}

export async function listSteps(db: Db, owner: StepOwner) {
  return db.selectFrom('steps').selectAll().where(ownerFilter(owner)).orderBy('id').execute();
}

/** Steps of many VMs at once (for lab views), keyed by VM id. */
export async function listStepsOfVms(db: Db, vmIds: string[]) {
  if (vmIds.length === 0) return new Map<string, Awaited<ReturnType<typeof listSteps>>>();
  const rows = await db.selectFrom('steps').selectAll().where('vm_id', 'in', vmIds).orderBy('id').execute();
  const byVm = new Map<string, typeof rows>();
  for (const row of rows) byVm.set(row.vm_id!, [...(byVm.get(row.vm_id!) ?? []), row]);
  return byVm;
}
