import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

export interface NewLab {
  name: string;
  platformId: string;
  spec: JsonValue;
  graph: JsonValue;
  onFailure: string;
  copies: number;
  expiresAt: Date | null;
  requestId?: string | null;
  createdBy?: string | null;
}

/** Inserts a queued lab and returns its id. */
export async function insertLab(db: Db, lab: NewLab): Promise<string> {
  const row = await db
    .insertInto('labs')
    .values({
      name: lab.name,
      platform_id: lab.platformId,
      status: 'queued',
      spec: JSON.stringify(lab.spec),
      graph: JSON.stringify(lab.graph),
      on_failure: lab.onFailure,
      copies: lab.copies,
      expires_at: lab.expiresAt,
      request_id: lab.requestId ?? null,
      created_by: lab.createdBy ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function getLab(db: Db, id: string) {
  return db.selectFrom('labs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The lab's status alone: what the event stream polls. */
export async function getLabStatus(db: Db, id: string): Promise<string | undefined> {
  const row = await db.selectFrom('labs').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}

export async function listLabs(db: Db, filter: { status?: string; limit: number; offset: number }) {
  let query = db
    .selectFrom('labs')
    .select(['id', 'name', 'status', 'copies', 'on_failure', 'expires_at', 'error', 'created_at', 'updated_at']);
  if (filter.status) query = query.where('status', '=', filter.status);
  return query.orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).offset(filter.offset).execute();
}

/** Sets a lab's status; `onlyFrom` makes the change conditional. Returns whether a row changed. */
export async function setLabStatus(
  db: Db,
  id: string,
  status: string,
  options: { error?: string | null; onlyFrom?: string[] } = {},
): Promise<boolean> {
  let query = db
    .updateTable('labs')
    .set({ status, updated_at: sql`now()`, ...(options.error === undefined ? {} : { error: options.error }) })
    .where('id', '=', id);
  if (options.onlyFrom) query = query.where('status', 'in', options.onlyFrom);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Puts a lab's failed VMs and their failed or skipped steps back to queued / pending. */
export async function requeueFailedVmsOfLab(db: Db, labId: string): Promise<number> {
  const vms = await db
    .updateTable('vms')
    .set({ status: 'queued', error: null, updated_at: sql`now()` })
    .where('lab_id', '=', labId)
    .where('status', '=', 'failed')
    .returning('id')
    .execute();
  const ids = vms.map((vm) => vm.id);
  if (ids.length > 0) {
    await db
      .updateTable('steps')
      .set({ status: 'pending', error: null, started_at: null, finished_at: null })
      .where('vm_id', 'in', ids)
      .where('status', 'in', ['failed', 'skipped', 'running'])
      .execute();
  }
  return ids.length;
}

/**
 * Starts the lab's next run: failed lab tasks back to pending and the run counter advanced; returns
 * the new run and the lab tasks already done (which the new run does not repeat).
 */
export async function advanceLabRun(db: Db, labId: string): Promise<{ run: number; doneTasks: string[] }> {
  await db
    .updateTable('steps')
    .set({ status: 'pending', error: null, started_at: null, finished_at: null })
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .where('status', 'in', ['failed', 'skipped', 'running'])
    .execute();
  const { run } = await db
    .updateTable('labs')
    .set((eb) => ({ run: eb('run', '+', 1), updated_at: sql`now()` }))
    .where('id', '=', labId)
    .returning('run')
    .executeTakeFirstOrThrow();
  const done = await db
    .selectFrom('steps')
    .select('name')
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .where('status', '=', 'done')
    .execute();
  return { run, doneTasks: done.map((row) => row.name) };
}

export async function deleteLab(db: Db, id: string): Promise<void> {
  await db.deleteFrom('labs').where('id', '=', id).execute();
}

export async function countLabsByStatus(db: Db) {
  return db
    .selectFrom('labs')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy('status')
    .execute();
}
