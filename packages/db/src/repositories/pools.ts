/**
 * Warm pools: ready lab copies deployed in advance from a catalog template or a saved spec. A pool's
 * members are its labs not yet claimed (`labs.pool_id`, `claimed_at` null); a claim hands the oldest
 * ready one to a project and the pool deploys another.
 */
import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';
import type { Scope } from '../scope';

export interface NewPool {
  name: string;
  project: string;
  source: JsonValue;
  size: number;
  createdBy?: string | null;
}

/** Pools are read by project (an admin's scope sees all; a trainee's none). */
function visible(scope: Scope) {
  if (scope.kind === 'all') return sql<boolean>`true`;
  if (scope.kind === 'copy') return sql<boolean>`false`;
  return sql<boolean>`pools.project = ${scope.project}`;
}

export async function insertPool(db: Db, pool: NewPool): Promise<string> {
  const row = await db
    .insertInto('pools')
    .values({
      name: pool.name,
      project: pool.project,
      source: JSON.stringify(pool.source),
      size: pool.size,
      created_by: pool.createdBy ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A pool by id or name, if `scope` may see it. */
export async function getPool(db: Db, idOrName: string, scope: Scope) {
  const byId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrName);
  return db
    .selectFrom('pools')
    .selectAll()
    .where(byId ? 'id' : 'name', '=', idOrName)
    .where(visible(scope))
    .executeTakeFirst();
}

export async function listPools(db: Db, scope: Scope) {
  return db.selectFrom('pools').selectAll().where(visible(scope)).orderBy('name').execute();
}

/** Takes the pool's row lock for the transaction (claims and fills of one pool go one at a time). */
export async function lockPool(trx: Db, id: string) {
  return trx.selectFrom('pools').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function setPoolSize(db: Db, id: string, size: number): Promise<void> {
  await db.updateTable('pools').set({ size, updated_at: sql`now()` }).where('id', '=', id).execute();
}

export async function setPoolStatus(db: Db, id: string, status: 'active' | 'draining'): Promise<void> {
  await db.updateTable('pools').set({ status, updated_at: sql`now()` }).where('id', '=', id).execute();
}

export async function deletePool(db: Db, id: string): Promise<void> {
  await db.deleteFrom('pools').where('id', '=', id).execute();
}

/** The pool's unclaimed labs that are not torn down, oldest first. */
export async function listPoolMembers(db: Db, poolId: string) {
  return (
    db
      .selectFrom('labs')
      .select(['id', 'name', 'status', 'created_at', 'first_ready_at', 'error'])
      // Busy: an operation (its initial snapshot, say) is queued or running; a claim skips it.
      .select(({ exists, selectFrom }) =>
        exists(
          selectFrom('lab_operations')
            .select('lab_operations.id')
            .whereRef('lab_operations.lab_id', '=', 'labs.id')
            .where('lab_operations.status', 'in', ['queued', 'running']),
        ).as('busy'),
      )
      .where('pool_id', '=', poolId)
      .where('claimed_at', 'is', null)
      .where('status', 'not in', ['destroying', 'destroyed'])
      .orderBy('created_at')
      .orderBy('id')
      .execute()
  );
}

/** Members by status for every pool (one query, for the API's listing and /metrics). */
export async function countPoolMembers(db: Db) {
  return db
    .selectFrom('labs')
    .select(['pool_id', 'status', sql<number>`count(*)::int`.as('count')])
    .where('pool_id', 'is not', null)
    .where('claimed_at', 'is', null)
    .where('status', 'not in', ['destroying', 'destroyed'])
    .groupBy(['pool_id', 'status'])
    .execute();
}

/**
 * The oldest ready member whose operations are all done, locked for the caller's transaction;
 * members another claim holds are skipped, so concurrent claims each get their own.
 */
export async function takeReadyPoolMember(trx: Db, poolId: string) {
  return (
    trx
      .selectFrom('labs')
      .selectAll()
      .where('pool_id', '=', poolId)
      .where('claimed_at', 'is', null)
      .where('status', '=', 'ready')
      // Its `initial` snapshot (and anything else asked of it) is done: a reset works from the start.
      .where('first_ready_at', 'is not', null)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('lab_operations')
              .select('lab_operations.id')
              .whereRef('lab_operations.lab_id', '=', 'labs.id')
              .where('lab_operations.status', 'in', ['queued', 'running']),
          ),
        ),
      )
      .orderBy('first_ready_at')
      .orderBy('id')
      .limit(1)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst()
  );
}

/**
 * Hands a member to its claimer: the lab (and its VMs) move to the claimer's project under its new
 * name and creator, with its TTL starting now.
 */
export async function markPoolLabClaimed(
  trx: Db,
  labId: string,
  claim: { name: string; project: string; createdBy: string | null; expiresAt: Date | null },
): Promise<void> {
  await trx
    .updateTable('labs')
    .set({
      name: claim.name,
      project: claim.project,
      created_by: claim.createdBy,
      expires_at: claim.expiresAt,
      claimed_at: sql`now()`,
      updated_at: sql`now()`,
    })
    .where('id', '=', labId)
    .execute();
  await trx
    .updateTable('vms')
    .set({ project: claim.project, created_by: claim.createdBy, updated_at: sql`now()` })
    .where('lab_id', '=', labId)
    .execute();
}

/** How long the claim took to hand the lab over, as its claimer saw it. */
export async function setClaimLatency(db: Db, labId: string, ms: number): Promise<void> {
  await db.updateTable('labs').set({ claim_ms: ms }).where('id', '=', labId).execute();
}

/** Recent claim latencies of a pool, newest first. */
export async function recentClaims(db: Db, poolId: string, limit = 20) {
  return db
    .selectFrom('labs')
    .select(['id', 'name', 'claimed_at', 'claim_ms'])
    .where('pool_id', '=', poolId)
    .where('claimed_at', 'is not', null)
    .orderBy('claimed_at', 'desc')
    .limit(limit)
    .execute();
}
