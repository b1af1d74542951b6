import { type ExpressionBuilder, sql } from 'kysely';
import type { Db } from '../connection';
import type { Database } from '../schema';

export interface VmidLeaseRow {
  platformId: string;
  vmid: number;
  owner: string;
  expiresAt: Date;
}

/** `now() + ttl`: leases expire by Postgres's clock, the one clock every machine shares. */
function expiryIn(ttlMs: number) {
  return sql<Date>`now() + make_interval(secs => ${ttlMs / 1000}::double precision)`;
}

const live = (eb: ExpressionBuilder<Database, 'vmid_leases'>) => eb('expires_at', '>', sql<Date>`now()`);

/** The owner's newest live lease on the platform. */
export async function findLiveVmidLeaseOfOwner(
  db: Db,
  where: { platformId: string; owner: string },
): Promise<VmidLeaseRow | undefined> {
  const row = await db
    .selectFrom('vmid_leases')
    .select(['platform_id', 'vmid', 'owner', 'expires_at'])
    .where('platform_id', '=', where.platformId)
    .where('owner', '=', where.owner)
    .where(live)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  return row && { platformId: row.platform_id, vmid: row.vmid, owner: row.owner, expiresAt: row.expires_at };
}

/**
 * Renews the owner's newest live lease on the platform (expiry `now() + ttl`) and returns its id, in
 * one statement; undefined when the owner holds no live lease. A lease that lapsed and was taken over
 * meanwhile is not renewed (the owner and liveness are checked again on the row being updated).
 */
export async function renewNewestVmidLeaseOfOwner(
  db: Db,
  lease: { platformId: string; owner: string; ttlMs: number },
): Promise<number | undefined> {
  const row = await db
    .updateTable('vmid_leases')
    .set({ expires_at: expiryIn(lease.ttlMs) })
    .where('platform_id', '=', lease.platformId)
    .where('owner', '=', lease.owner)
    .where(live)
    .where('vmid', '=', (eb) =>
      eb
        .selectFrom('vmid_leases as newest')
        .select('newest.vmid')
        .where('newest.platform_id', '=', lease.platformId)
        .where('newest.owner', '=', lease.owner)
        .where('newest.expires_at', '>', sql<Date>`now()`)
        .orderBy('newest.created_at', 'desc')
        .limit(1),
    )
    .returning('vmid')
    .executeTakeFirst();
  return row?.vmid;
}

/** Ids in `[min, max]` that live leases of the platform hold. */
export async function listLiveLeasedVmids(db: Db, platformId: string, range: { min: number; max: number }) {
  const rows = await db
    .selectFrom('vmid_leases')
    .select('vmid')
    .where('platform_id', '=', platformId)
    .where('vmid', '>=', range.min)
    .where('vmid', '<=', range.max)
    .where(live)
    .execute();
  return rows.map((row) => row.vmid);
}

/** Inserts the lease, or takes over an expired one; false when a live lease holds the id. */
export async function insertVmidLease(
  db: Db,
  lease: { platformId: string; vmid: number; owner: string; ttlMs: number },
): Promise<boolean> {
  const row = await db
    .insertInto('vmid_leases')
    .values({ platform_id: lease.platformId, vmid: lease.vmid, owner: lease.owner, expires_at: expiryIn(lease.ttlMs) })
    .onConflict((oc) =>
      oc
        .columns(['platform_id', 'vmid'])
        .doUpdateSet((eb) => ({
          owner: eb.ref('excluded.owner'),
          expires_at: eb.ref('excluded.expires_at'),
          created_at: sql<Date>`now()`,
        }))
        .where('vmid_leases.expires_at', '<=', sql<Date>`now()`),
    )
    .returning('vmid')
    .executeTakeFirst();
  return row !== undefined;
}

/** Moves the expiry of this owner's lease to `now() + ttl`; false when the lease is no longer theirs. */
export async function renewVmidLease(
  db: Db,
  lease: { platformId: string; vmid: number; owner: string; ttlMs: number },
): Promise<boolean> {
  const result = await db
    .updateTable('vmid_leases')
    .set({ expires_at: expiryIn(lease.ttlMs) })
    .where('platform_id', '=', lease.platformId)
    .where('vmid', '=', lease.vmid)
    .where('owner', '=', lease.owner)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Deletes this owner's lease of the id (a lease taken over by someone else stays). */
export async function deleteVmidLease(db: Db, lease: { platformId: string; vmid: number; owner: string }) {
  await db
    .deleteFrom('vmid_leases')
    .where('platform_id', '=', lease.platformId)
    .where('vmid', '=', lease.vmid)
    .where('owner', '=', lease.owner)
    .execute();
}

/** Deletes every lease the owner holds, on any platform (a destroyed or re-cloned VM's). */
export async function deleteVmidLeasesOfOwner(db: Db, owner: string): Promise<void> {
  await db.deleteFrom('vmid_leases').where('owner', '=', owner).execute();
}

/** Every id the owner holds a lease on, live or expired (what a tear-down must look at and release). */
export async function listVmidsLeasedBy(db: Db, owner: string): Promise<number[]> {
  const rows = await db.selectFrom('vmid_leases').select('vmid').where('owner', '=', owner).orderBy('vmid').execute();
  return rows.map((row) => row.vmid);
}

/** Every lease of a platform, live or not (for tests and reports). */
export async function listVmidLeases(db: Db, platformId?: string): Promise<VmidLeaseRow[]> {
  let query = db.selectFrom('vmid_leases').select(['platform_id', 'vmid', 'owner', 'expires_at']);
  if (platformId !== undefined) query = query.where('platform_id', '=', platformId);
  const rows = await query.orderBy('platform_id').orderBy('vmid').execute();
  return rows.map((row) => ({
    platformId: row.platform_id,
    vmid: row.vmid,
    owner: row.owner,
    expiresAt: row.expires_at,
  }));
}
