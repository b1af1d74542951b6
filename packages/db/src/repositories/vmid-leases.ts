import { CompiledQuery, type ExpressionBuilder, sql } from 'kysely';
import { type Db, preparedByName } from '../connection';
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

/** The owner's newest live lease on the platform, as `findLiveVmidLeaseOfOwner` picks it. */
const NEWEST_LIVE_LEASE = `
  SELECT vmid FROM vmid_leases
  WHERE platform_id = $1 AND owner = $2 AND expires_at > now()
  ORDER BY created_at DESC LIMIT 1`;

/**
 * Renews that lease (expiry `now() + ttl`); the owner and liveness are checked again on the row being
 * updated, so a lease that lapsed and was taken over meanwhile is not renewed.
 */
const RENEW_NEWEST_LIVE_LEASE = `
  UPDATE vmid_leases AS l SET expires_at = now() + make_interval(secs => $3::double precision)
  FROM newest
  WHERE l.platform_id = $1 AND l.vmid = newest.vmid AND l.owner = $2 AND l.expires_at > now()
  RETURNING l.vmid`;

const RENEW_NEWEST = `WITH newest AS (${NEWEST_LIVE_LEASE}) ${RENEW_NEWEST_LIVE_LEASE}`;

/**
 * Renews the owner's newest live lease on the platform (expiry `now() + ttl`) and returns its id, in
 * one statement; undefined when the owner holds no live lease. A lease that lapsed and was taken over
 * meanwhile is not renewed (the owner and liveness are checked again on the row being updated).
 */
export async function renewNewestVmidLeaseOfOwner(
  db: Db,
  lease: { platformId: string; owner: string; ttlMs: number },
): Promise<number | undefined> {
  const result = await db.executeQuery<{ vmid: number }>(
    CompiledQuery.raw(RENEW_NEWEST, [lease.platformId, lease.owner, lease.ttlMs / 1000]),
  );
  return result.rows[0]?.vmid;
}

/** One caller's ask: its lease renewed if it holds one, else `vmid` leased to it. */
export interface VmidLeaseAsk {
  platformId: string;
  vmid: number;
  owner: string;
  ttlMs: number;
}

/**
 * What `renewNewestVmidLeaseOfOwner` and then, when the owner held no live lease, `insertVmidLease`
 * of `vmid` would do for each ask, one ask after another in order: the id of the owner's lease,
 * renewed, else `vmid` leased to it (an expired lease of it taken over); undefined when it held none
 * and a live lease holds `vmid` (one taken by an earlier ask of the same call too). One statement for
 * the lot (the leases a lab's VMs ask for at once), and one more for each owner that asks again in
 * the same call (its later asks see what its first did).
 */
export async function renewOrInsertVmidLeases(db: Db, asks: readonly VmidLeaseAsk[]): Promise<(number | undefined)[]> {
  const vmids: (number | undefined)[] = [];
  let pending = asks.map((ask, at) => ({ ask, at }));
  while (pending.length > 0) {
    const round: typeof pending = [];
    const later: typeof pending = [];
    const owners = new Set<string>();
    for (const one of pending) {
      const owner = `${one.ask.platformId}\n${one.ask.owner}`;
      (owners.has(owner) ? later : round).push(one);
      owners.add(owner);
    }
    const result = await db.executeQuery<{ vmid: number | null }>(
      CompiledQuery.raw(RENEW_OR_INSERT, [
        round.map((one) => one.ask.platformId),
        round.map((one) => one.ask.owner),
        round.map((one) => one.ask.ttlMs / 1000),
        round.map((one) => one.ask.vmid),
      ]),
    );
    for (const [i, one] of round.entries()) vmids[one.at] = result.rows[i]?.vmid ?? undefined;
    pending = later;
  }
  return vmids;
}

/**
 * `renewOrInsertVmidLeases` for asks of distinct owners ($1..$4: platform ids, owners, ttls in
 * seconds, candidate ids), one answer per ask in order. An owner holding a live lease has it renewed
 * (rechecked on the row, as `RENEW_NEWEST_LIVE_LEASE`); the others insert their candidates, the first
 * ask of an id alone (a later one finds it live), and none an id a lease renewed here holds (live
 * anyway): a row is changed once per statement, as ON CONFLICT DO UPDATE requires. The arrays are
 * unnested from behind `OFFSET 0` so that the planner cannot count them: given their length it found
 * each one-ask run cheaper than a generic plan and planned every run anew (0.3 ms planning for 0.15 ms
 * of work); now runs after the fifth take the prepared statement's generic plan.
 */
const RENEW_OR_INSERT = `
  WITH asked AS (
    SELECT a.* FROM (SELECT $1::text[] AS p, $2::text[] AS o, $3::double precision[] AS s, $4::int[] AS v OFFSET 0) arrays,
      unnest(arrays.p, arrays.o, arrays.s, arrays.v) WITH ORDINALITY AS a(platform_id, owner, secs, vmid, ord)
  ), newest AS (
    SELECT a.ord, a.platform_id, l.vmid FROM asked a
    CROSS JOIN LATERAL (
      SELECT vmid FROM vmid_leases
      WHERE platform_id = a.platform_id AND owner = a.owner AND expires_at > now()
      ORDER BY created_at DESC LIMIT 1
    ) l
  ), held AS (
    UPDATE vmid_leases AS l SET expires_at = now() + make_interval(secs => a.secs)
    FROM newest n JOIN asked a USING (ord)
    WHERE l.platform_id = a.platform_id AND l.vmid = n.vmid AND l.owner = a.owner AND l.expires_at > now()
    RETURNING n.ord, l.vmid
  ), taken AS (
    INSERT INTO vmid_leases (platform_id, vmid, owner, expires_at)
    SELECT DISTINCT ON (a.platform_id, a.vmid) a.platform_id, a.vmid, a.owner, now() + make_interval(secs => a.secs)
    FROM asked a
    WHERE NOT EXISTS (SELECT FROM newest n WHERE n.ord = a.ord)
      AND NOT EXISTS (SELECT FROM newest n WHERE n.platform_id = a.platform_id AND n.vmid = a.vmid)
    ORDER BY a.platform_id, a.vmid, a.ord
    ON CONFLICT (platform_id, vmid) DO UPDATE
      SET owner = excluded.owner, expires_at = excluded.expires_at, created_at = now()
      WHERE vmid_leases.expires_at <= now()
    RETURNING platform_id, vmid, owner
  )
  SELECT coalesce(h.vmid, t.vmid) AS vmid FROM asked a
  LEFT JOIN held h ON h.ord = a.ord
  LEFT JOIN taken t ON h.ord IS NULL AND t.platform_id = a.platform_id AND t.vmid = a.vmid AND t.owner = a.owner
  ORDER BY a.ord`;

// Each VM's lease is taken and renewed with these texts: prepared once per connection.
preparedByName(RENEW_NEWEST);
preparedByName(RENEW_OR_INSERT);

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
