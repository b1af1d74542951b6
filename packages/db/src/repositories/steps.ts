import type { StepStatus } from '@glassdome/lab';
import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

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
  outcome: { status: Extract<StepStatus, 'done' | 'failed' | 'skipped'>; error?: string; detail?: JsonValue },
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

/** Puts the unfinished steps of these VMs (failed, skipped or left running) back to pending. */
export async function resetUnfinishedVmSteps(db: Db, vmIds: string[]): Promise<void> {
  if (vmIds.length === 0) return;
  await db
    .updateTable('steps')
    .set({ status: 'pending', error: null, started_at: null, finished_at: null })
    .where('vm_id', 'in', vmIds)
    .where('status', 'in', ['failed', 'skipped', 'running'])
    .execute();
}

/** A step's recorded result (e.g. a lab network task's bridge and tag), if it has one. */
export async function getStepDetail(db: Db, owner: StepOwner, name: string): Promise<JsonValue | undefined> {
  const row = await db
    .selectFrom('steps')
    .select('detail')
    .where(ownerFilter(owner))
    .where('name', '=', name)
    .executeTakeFirst();
  return row?.detail ?? undefined;
}

/** Names of the owner's steps in one status. */
export async function stepNamesIn(db: Db, owner: StepOwner, status: StepStatus): Promise<string[]> {
  const rows = await db
    .selectFrom('steps')
    .select('name')
    .where(ownerFilter(owner))
    .where('status', '=', status)
    .execute();
  return rows.map((row) => row.name);
}

/** Puts every step of the owner back to pending (a VM deployed again from the start). */
export async function resetAllSteps(db: Db, owner: StepOwner): Promise<void> {
  await db
    .updateTable('steps')
    .set({ status: 'pending', error: null, started_at: null, finished_at: null })
    .where(ownerFilter(owner))
    .execute();
}

/** Sets the status of the owner's named steps (e.g. lab tasks to redo marked failed). */
export async function setStepsStatus(db: Db, owner: StepOwner, names: string[], status: StepStatus): Promise<void> {
  if (names.length === 0) return;
  await db.updateTable('steps').set({ status }).where(ownerFilter(owner)).where('name', 'in', names).execute();
}

/** Steps running (and started) on a platform: those of its VMs and of its labs' tasks. */
export async function listRunningStepsOfPlatform(db: Db, platformId: string) {
  return db
    .selectFrom('steps')
    .leftJoin('vms', 'vms.id', 'steps.vm_id')
    .leftJoin('labs', 'labs.id', 'steps.lab_id')
    .select(['steps.vm_id', 'steps.lab_id', 'steps.name', 'steps.started_at'])
    .where('steps.status', '=', 'running')
    .where('steps.started_at', 'is not', null)
    .where((eb) => eb.or([eb('vms.platform_id', '=', platformId), eb('labs.platform_id', '=', platformId)]))
    .execute();
}

/** Replaces a step's recorded result (e.g. the firewall digest after a repair re-applied it). */
export async function setStepDetail(db: Db, owner: StepOwner, name: string, detail: JsonValue): Promise<void> {
  await db
    .updateTable('steps')
    .set({ detail: JSON.stringify(detail) })
    .where(ownerFilter(owner))
    .where('name', '=', name)
    .execute();
}

/** The event a step's progress appends to the timeline along with it. */
export interface StepEvent {
  kind: string;
  message: string;
}

function stepEventValues(owner: StepOwner, event: StepEvent) {
  return sql`(${owner.labId ?? null}::uuid, ${owner.vmId ?? null}::uuid, ${event.kind}, ${event.message})`;
}

/** `startStep` and its timeline event in one statement (one round trip per step start). */
export async function startStepWithEvent(db: Db, owner: StepOwner, name: string, event: StepEvent): Promise<void> {
  await sql`
    WITH started AS (
      UPDATE steps SET status = 'running', attempts = attempts + 1, started_at = now(), finished_at = NULL, error = NULL
      WHERE ${ownerFilter(owner)} AND name = ${name}
    )
    INSERT INTO events (lab_id, vm_id, kind, message) VALUES ${stepEventValues(owner, event)}`.execute(db);
}

/** `finishStep` and its timeline event in one statement. */
export async function finishStepWithEvent(
  db: Db,
  owner: StepOwner,
  name: string,
  outcome: { status: Extract<StepStatus, 'done' | 'failed' | 'skipped'>; error?: string; detail?: JsonValue },
  event: StepEvent,
): Promise<void> {
  const detail = outcome.detail === undefined ? sql`detail` : sql`${JSON.stringify(outcome.detail)}::jsonb`;
  await sql`
    WITH finished AS (
      UPDATE steps SET status = ${outcome.status}, finished_at = now(), error = ${outcome.error ?? null}, detail = ${detail}
      WHERE ${ownerFilter(owner)} AND name = ${name}
    )
    INSERT INTO events (lab_id, vm_id, kind, message) VALUES ${stepEventValues(owner, event)}`.execute(db);
}

/** A lab task's step planned (if it was not) and marked running, its attempt counted: one statement. */
export async function startLabTaskStep(db: Db, labId: string, name: string): Promise<void> {
  await sql`
    INSERT INTO steps (vm_id, lab_id, name, status, attempts, started_at)
    VALUES (NULL, ${labId}, ${name}, 'running', 1, now())
    ON CONFLICT (lab_id, name) WHERE vm_id IS NULL DO UPDATE
      SET status = 'running', attempts = steps.attempts + 1, started_at = now(), finished_at = NULL, error = NULL`.execute(
    db,
  );
}

/**
 * Records a lab task's step done, then returns the names of the lab's steps done now (this one
 * included). Two statements on purpose: the read must start after the update committed, so that of
 * two tasks finishing at once at least one sees both done and adds their common dependent. In one
 * statement each reads a snapshot taken before the other's update committed, both can see the other
 * unfinished, and the dependent is never added (the lab then settles without it).
 */
export async function finishLabTaskStep(
  db: Db,
  labId: string,
  name: string,
  detail: JsonValue | undefined,
): Promise<string[]> {
  await finishStep(db, { labId }, name, { status: 'done', ...(detail === undefined ? {} : { detail }) });
  return stepNamesIn(db, { labId }, 'done');
}
