/**
 * What the overseer's re-drive sweep reads: rows in a non-final state that have shown no sign of life
 * (their own row, their steps, a lab's VMs) for a while, the outbox's pending intents, and how often
 * a row was re-driven since it last made progress.
 */
import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

/** `now() - seconds`, by Postgres's clock (the one every machine shares). */
function ago(seconds: number) {
  return sql<Date>`now() - make_interval(secs => ${seconds}::double precision)`;
}

export interface QuietVm {
  id: string;
  status: string;
  labId: string | null;
  labStatus: string | null;
  /** When a step of it last finished done (its creation when none has): progress, for the re-drive count. */
  lastProgress: Date;
}

/** VMs of the platform in one of `statuses` whose row and steps have not changed for `quietSeconds`. */
export async function listQuietVms(
  db: Db,
  where: { platformId: string; statuses: readonly string[]; quietSeconds: number },
): Promise<QuietVm[]> {
  const cutoff = ago(where.quietSeconds);
  const rows = await db
    .selectFrom('vms')
    .leftJoin('labs', 'labs.id', 'vms.lab_id')
    .select([
      'vms.id',
      'vms.status',
      'vms.lab_id',
      'labs.status as lab_status',
      sql<Date>`coalesce((select max(s.finished_at) from steps s where s.vm_id = vms.id and s.status = 'done'), vms.created_at)`.as(
        'last_progress',
      ),
    ])
    .where('vms.platform_id', '=', where.platformId)
    .where('vms.status', 'in', [...where.statuses])
    .where('vms.updated_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('steps as s')
            .select(sql`1`.as('one'))
            .whereRef('s.vm_id', '=', 'vms.id')
            .where((eb) => eb.or([eb('s.started_at', '>=', cutoff), eb('s.finished_at', '>=', cutoff)])),
        ),
      ),
    )
    .execute();
  return rows.map((row) => ({
    id: row.id,
    status: row.status,
    labId: row.lab_id,
    labStatus: row.lab_status,
    lastProgress: row.last_progress,
  }));
}

export interface QuietLab {
  id: string;
  status: string;
  policy: string;
  lastProgress: Date;
}

/** Labs of the platform in one of `statuses` with no change to them, their steps or their VMs for `quietSeconds`. */
export async function listQuietLabs(
  db: Db,
  where: { platformId: string; statuses: readonly string[]; quietSeconds: number },
): Promise<QuietLab[]> {
  const cutoff = ago(where.quietSeconds);
  const rows = await db
    .selectFrom('labs')
    .select([
      'labs.id',
      'labs.status',
      'labs.on_failure',
      sql<Date>`coalesce((select max(s.finished_at) from steps s where s.lab_id = labs.id and s.status = 'done'), labs.created_at)`.as(
        'last_progress',
      ),
    ])
    .where('labs.platform_id', '=', where.platformId)
    .where('labs.status', 'in', [...where.statuses])
    .where('labs.updated_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('steps as s')
            .select(sql`1`.as('one'))
            .whereRef('s.lab_id', '=', 'labs.id')
            .where((eb) => eb.or([eb('s.started_at', '>=', cutoff), eb('s.finished_at', '>=', cutoff)])),
        ),
      ),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('vms as v')
            .select(sql`1`.as('one'))
            .whereRef('v.lab_id', '=', 'labs.id')
            .where('v.updated_at', '>=', cutoff),
        ),
      ),
    )
    .execute();
  return rows.map((row) => ({
    id: row.id,
    status: row.status,
    policy: row.on_failure,
    lastProgress: row.last_progress,
  }));
}

/** Templates of the platform in one of `statuses` unchanged for `quietSeconds`. */
export async function listQuietTemplates(
  db: Db,
  where: { platformId: string; statuses: readonly string[]; quietSeconds: number },
) {
  return db
    .selectFrom('templates')
    .select(['id', 'status', 'os', 'node', 'updated_at'])
    .where('platform_id', '=', where.platformId)
    .where('status', 'in', [...where.statuses])
    .where('updated_at', '<', ago(where.quietSeconds))
    .execute();
}

/** The first lab task (not a VM step) that failed, with its error: why a `fail`-policy lab should have failed. */
export async function firstFailedLabTask(db: Db, labId: string) {
  return db
    .selectFrom('steps')
    .select(['name', 'error'])
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .where('status', '=', 'failed')
    .orderBy('finished_at')
    .executeTakeFirst();
}

/** Every intent still waiting in the outbox (capped): what is about to be sent needs no re-drive. */
export async function listPendingIntents(db: Db, limit = 10_000): Promise<JsonValue[]> {
  const rows = await db.selectFrom('outbox').select('intent').orderBy('id').limit(limit).execute();
  return rows.map((row) => row.intent);
}

/** How many events of `kind` about this VM, lab (or, by `data.templateId`, template) since `since`, and the last one's time. */
export async function countEventsSince(
  db: Db,
  where: { kind: string; since: Date; vmId?: string; labId?: string; templateId?: string },
): Promise<{ count: number; last: Date | null }> {
  let query = db
    .selectFrom('events')
    .select((eb) => [eb.fn.countAll<string>().as('count'), eb.fn.max('at').as('last')])
    .where('kind', '=', where.kind)
    .where('at', '>=', where.since);
  if (where.vmId) query = query.where('vm_id', '=', where.vmId);
  if (where.labId) query = query.where('lab_id', '=', where.labId);
  if (where.templateId) query = query.where(sql<string>`data->>'templateId'`, '=', where.templateId);
  const row = await query.executeTakeFirstOrThrow();
  return { count: Number(row.count), last: row.last ?? null };
}

/**
 * The lab's next run for a re-drive: lab tasks left running or skipped go back to pending, failed ones
 * stay failed; returns the new run, the tasks done and the tasks failed.
 */
export async function advanceLabRunKeepingFailures(
  db: Db,
  labId: string,
): Promise<{ run: number; doneTasks: string[]; failedTasks: string[] }> {
  await db
    .updateTable('steps')
    .set({ status: 'pending', error: null, started_at: null, finished_at: null })
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .where('status', 'in', ['skipped', 'running'])
    .execute();
  const { run } = await db
    .updateTable('labs')
    .set((eb) => ({ run: eb('run', '+', 1), updated_at: sql`now()` }))
    .where('id', '=', labId)
    .returning('run')
    .executeTakeFirstOrThrow();
  const tasks = await db
    .selectFrom('steps')
    .select(['name', 'status'])
    .where('lab_id', '=', labId)
    .where('vm_id', 'is', null)
    .where('status', 'in', ['done', 'failed'])
    .execute();
  return {
    run,
    doneTasks: tasks.filter((t) => t.status === 'done').map((t) => t.name),
    failedTasks: tasks.filter((t) => t.status === 'failed').map((t) => t.name),
  };
}

/** Marks the VM's row as just looked at (`updated_at = now()`), leaving its status alone. */
export async function touchVm(db: Db, vmId: string): Promise<void> {
  await db.updateTable('vms').set({ updated_at: sql`now()` }).where('id', '=', vmId).execute();
}

/** Marks the lab's row as just looked at (`updated_at = now()`), leaving its status alone. */
export async function touchLab(db: Db, labId: string): Promise<void> {
  await db.updateTable('labs').set({ updated_at: sql`now()` }).where('id', '=', labId).execute();
}
