import { sql } from 'kysely';
import type { Db } from '../connection';

export interface NetworkLeaseRow {
  platformId: string;
  tag: number;
  owner: string;
  labId: string | null;
  network: string | null;
}

/** The tag the owner holds on the platform, if any (an owner holds at most one: unique constraint). */
export async function findNetworkLeaseTagOfOwner(
  db: Db,
  where: { platformId: string; owner: string },
): Promise<number | undefined> {
  const row = await db
    .selectFrom('network_leases')
    .select('tag')
    .where('platform_id', '=', where.platformId)
    .where('owner', '=', where.owner)
    .executeTakeFirst();
  return row?.tag;
}

/** Every tag leased on the platform. */
export async function listLeasedNetworkTags(db: Db, platformId: string): Promise<number[]> {
  const rows = await db.selectFrom('network_leases').select('tag').where('platform_id', '=', platformId).execute();
  return rows.map((row) => row.tag);
}

/** Inserts the lease; false when the tag (or the owner) already has one on the platform. */
export async function insertNetworkLease(db: Db, lease: NetworkLeaseRow): Promise<boolean> {
  const row = await db
    .insertInto('network_leases')
    .values({
      platform_id: lease.platformId,
      tag: lease.tag,
      owner: lease.owner,
      lab_id: lease.labId,
      network: lease.network,
    })
    .onConflict((oc) => oc.doNothing())
    .returning('tag')
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes every network lease of a lab (its tear-down). */
export async function deleteNetworkLeasesOfLab(db: Db, labId: string): Promise<void> {
  await db.deleteFrom('network_leases').where('lab_id', '=', labId).execute();
}

/** Leases of a lab, or of every lab, by tag (for tests and reports). */
export async function listNetworkLeases(db: Db, filter: { labId?: string } = {}): Promise<NetworkLeaseRow[]> {
  let query = db.selectFrom('network_leases').select(['platform_id', 'tag', 'owner', 'lab_id', 'network']);
  if (filter.labId !== undefined) query = query.where('lab_id', '=', filter.labId);
  const rows = await query.orderBy('platform_id').orderBy('tag').execute();
  return rows.map(leaseOf);
}

function leaseOf(row: {
  platform_id: string;
  tag: number;
  owner: string;
  lab_id: string | null;
  network: string | null;
}): NetworkLeaseRow {
  return { platformId: row.platform_id, tag: row.tag, owner: row.owner, labId: row.lab_id, network: row.network };
}

/** A lease with the status of the lab it was made for (null: no lab, or the lab row is gone). */
export interface NetworkLeaseHolding extends NetworkLeaseRow {
  labStatus: string | null;
  /** A named network's lease (owner `network:<id>`) whose network row is gone. */
  networkGone: boolean;
}

/** Every lease of a platform with its lab's status: what the overseer reconciles networks against. */
export async function listNetworkLeaseHoldings(db: Db, platformId: string): Promise<NetworkLeaseHolding[]> {
  const rows = await db
    .selectFrom('network_leases')
    .leftJoin('labs', 'labs.id', 'network_leases.lab_id')
    .leftJoin('networks', (join) => join.on(sql<boolean>`network_leases.owner = 'network:' || networks.id::text`))
    .select([
      'network_leases.platform_id',
      'network_leases.tag',
      'network_leases.owner',
      'network_leases.lab_id',
      'network_leases.network',
      'labs.status as lab_status',
      'networks.id as network_id',
    ])
    .where('network_leases.platform_id', '=', platformId)
    .orderBy('network_leases.tag')
    .execute();
  return rows.map((row) => ({
    ...leaseOf(row),
    labStatus: row.lab_status ?? null,
    networkGone: row.owner.startsWith('network:') && row.network_id === null,
  }));
}

/** Deletes the lease an owner holds (a named network's, when it is deleted). */
export async function deleteNetworkLeaseOfOwner(db: Db, where: { platformId: string; owner: string }): Promise<void> {
  await db
    .deleteFrom('network_leases')
    .where('platform_id', '=', where.platformId)
    .where('owner', '=', where.owner)
    .execute();
}
