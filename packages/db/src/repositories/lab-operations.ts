/**
 * Operations on a running lab (take or delete a snapshot, revert, testing mode, a pool claim): one row
 * each, with its target, progress (`done` of `total` VMs) and outcome, so the API can show a job's
 * progress without asking Redis.
 */
import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

export const LAB_OPERATION_KINDS = [
  'snapshot',
  'revert',
  'delete-snapshot',
  'testing-start',
  'testing-stop',
  'claim',
] as const;
export type LabOperationKind = (typeof LAB_OPERATION_KINDS)[number];

export interface NewLabOperation {
  labId: string;
  kind: LabOperationKind;
  /** What it acts on: `{kind: 'lab'}`, `{kind: 'copy', copy}` or `{kind: 'vm', vmId, copy}`. */
  target: JsonValue;
  snapshot?: string | null;
  options?: JsonValue;
  /** VMs it will act on. */
  total: number;
  requestedBy?: string | null;
}

export async function insertLabOperation(db: Db, operation: NewLabOperation): Promise<string> {
  const row = await db
    .insertInto('lab_operations')
    .values({
      lab_id: operation.labId,
      kind: operation.kind,
      target: JSON.stringify(operation.target),
      snapshot: operation.snapshot ?? null,
      options: operation.options === undefined ? null : JSON.stringify(operation.options),
      total: operation.total,
      requested_by: operation.requestedBy ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function getLabOperation(db: Db, id: string) {
  return db.selectFrom('lab_operations').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A lab's operations, newest first. */
export async function listLabOperations(db: Db, labId: string, limit = 50) {
  return db
    .selectFrom('lab_operations')
    .selectAll()
    .where('lab_id', '=', labId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** The lab's operations of these kinds still queued or running (at most a few). */
export async function activeLabOperations(db: Db, labId: string, kinds: readonly LabOperationKind[]) {
  return db
    .selectFrom('lab_operations')
    .select(['id', 'kind', 'snapshot', 'status', 'created_at'])
    .where('lab_id', '=', labId)
    .where('kind', 'in', [...kinds])
    .where('status', 'in', ['queued', 'running'])
    .execute();
}

/** Marks it running (again, after a retry: the start time stays the first one). */
export async function startLabOperation(db: Db, id: string): Promise<void> {
  await db
    .updateTable('lab_operations')
    .set({ status: 'running', started_at: sql`coalesce(started_at, now())` })
    .where('id', '=', id)
    .where('status', 'in', ['queued', 'running'])
    .execute();
}

/**
 * Records `done` VMs; progress only grows. VMs acted on at once report 1, 2, … from separate
 * connections, and Postgres may apply those updates in another order: the larger count stays.
 */
export async function setLabOperationProgress(db: Db, id: string, done: number, total?: number): Promise<void> {
  await db
    .updateTable('lab_operations')
    .set({ done: sql`greatest(done, ${done}::int)`, ...(total === undefined ? {} : { total }) })
    .where('id', '=', id)
    .execute();
}

/** Ends it `done` or `failed` (with the reason); an operation that already ended stays as it ended. */
export async function finishLabOperation(
  db: Db,
  id: string,
  outcome: { status: 'done' | 'failed'; error?: string | null },
): Promise<boolean> {
  const result = await db
    .updateTable('lab_operations')
    .set({ status: outcome.status, error: outcome.error ?? null, finished_at: sql`now()` })
    .where('id', '=', id)
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
