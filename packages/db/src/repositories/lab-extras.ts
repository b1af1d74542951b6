/**
 * What a lab remembers beyond its deployment: when it was first ready (its `initial` snapshot is
 * taken then), where it came from (a catalog template with parameters, a saved spec), the pool it
 * waited in and when it was claimed, its TTL, and testing mode.
 */
import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

/**
 * Records the lab's first `ready`; true only for the call that recorded it (a lab that was ready
 * before, then reverted or re-cloned, is not first-ready again).
 */
export async function markLabFirstReady(db: Db, labId: string): Promise<boolean> {
  const result = await db
    .updateTable('labs')
    .set({ first_ready_at: sql`now()` })
    .where('id', '=', labId)
    .where('first_ready_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Where the lab came from (template and parameters, saved spec and version), and its pool if any. */
export async function setLabOrigin(
  db: Db,
  labId: string,
  origin: { source?: JsonValue; poolId?: string | null },
): Promise<void> {
  await db
    .updateTable('labs')
    .set({
      ...(origin.source === undefined ? {} : { source: JSON.stringify(origin.source) }),
      ...(origin.poolId === undefined ? {} : { pool_id: origin.poolId }),
    })
    .where('id', '=', labId)
    .execute();
}

/** Moves the lab's expiry (the overseer tears it down once past it; null: never). */
export async function setLabExpiry(db: Db, labId: string, expiresAt: Date | null): Promise<void> {
  await db.updateTable('labs').set({ expires_at: expiresAt, updated_at: sql`now()` }).where('id', '=', labId).execute();
}

/** Testing mode as it stands (null: the lab's own egress policy applies). */
export async function setLabTesting(db: Db, labId: string, testing: JsonValue | null): Promise<void> {
  await db
    .updateTable('labs')
    .set({ testing: testing === null ? null : JSON.stringify(testing), updated_at: sql`now()` })
    .where('id', '=', labId)
    .execute();
}

/** The lab's extra fields, read alone (workers; the API reads them with the lab row). */
export async function getLabExtras(db: Db, labId: string) {
  return db
    .selectFrom('labs')
    .select([
      'id',
      'project',
      'status',
      'created_at',
      'expires_at',
      'first_ready_at',
      'source',
      'pool_id',
      'claimed_at',
      'claim_ms',
      'testing',
    ])
    .where('id', '=', labId)
    .executeTakeFirst();
}

/** Replaces a VM's stored spec (e.g. a pool claim adds its trainees' keys). */
export async function setVmStoredSpec(db: Db, vmId: string, spec: JsonValue): Promise<void> {
  await db
    .updateTable('vms')
    .set({ spec: JSON.stringify(spec), updated_at: sql`now()` })
    .where('id', '=', vmId)
    .execute();
}
