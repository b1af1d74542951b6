/**
 * Named networks an admin gives a project (`POST /api/v1/networks`): the project's standalone VMs may
 * name one, and its NIC then goes on the network's VNet. The gateway makes and removes the VNet; its
 * VLAN lease is owned by `network:<id>` (networkLeaseOwner).
 */
import { sql } from 'kysely';
import type { Db } from '../connection';
import type { Scope } from '../scope';

export type NetworkStatus = 'creating' | 'ready' | 'failed' | 'deleting';

export interface NetworkRow {
  id: string;
  platformId: string;
  project: string;
  name: string;
  cidr: string | null;
  status: NetworkStatus;
  bridge: string | null;
  tag: number | null;
  error: string | null;
  createdAt: Date;
}

/** The owner a named network's VLAN lease carries. */
export function networkLeaseOwner(networkId: string): string {
  return `network:${networkId}`;
}

const columns = [
  'id',
  'platform_id',
  'project',
  'name',
  'cidr',
  'status',
  'bridge',
  'tag',
  'error',
  'created_at',
] as const;

type Selected = {
  id: string;
  platform_id: string;
  project: string;
  name: string;
  cidr: string | null;
  status: string;
  bridge: string | null;
  tag: number | null;
  error: string | null;
  created_at: Date;
};

function toRow(row: Selected): NetworkRow {
  return {
    id: row.id,
    platformId: row.platform_id,
    project: row.project,
    name: row.name,
    cidr: row.cidr,
    status: row.status as NetworkStatus,
    bridge: row.bridge,
    tag: row.tag,
    error: row.error,
    createdAt: row.created_at,
  };
}

/** Networks belong to a project; a trainee (a lab copy's scope) sees none. */
function scoped(db: Db, scope: Scope) {
  const query = db.selectFrom('networks').select(columns);
  if (scope.kind === 'all') return query;
  if (scope.kind === 'project') return query.where('project', '=', scope.project);
  return query.where(sql<boolean>`false`);
}

/** Records a network to be made; throws the unique violation (23505) when the project has one of that name. */
export async function insertNetwork(
  db: Db,
  network: { platformId: string; project: string; name: string; cidr: string | null; createdBy: string | null },
): Promise<NetworkRow> {
  const row = await db
    .insertInto('networks')
    .values({
      platform_id: network.platformId,
      project: network.project,
      name: network.name,
      cidr: network.cidr,
      created_by: network.createdBy,
    })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return toRow(row);
}

export async function getNetwork(db: Db, id: string, scope: Scope): Promise<NetworkRow | undefined> {
  const row = await scoped(db, scope).where('id', '=', id).executeTakeFirst();
  return row && toRow(row);
}

export async function findNetworkByName(db: Db, project: string, name: string): Promise<NetworkRow | undefined> {
  const row = await db
    .selectFrom('networks')
    .select(columns)
    .where('project', '=', project)
    .where('name', '=', name)
    .executeTakeFirst();
  return row && toRow(row);
}

export async function listNetworks(db: Db, scope: Scope): Promise<NetworkRow[]> {
  const rows = await scoped(db, scope).orderBy('project').orderBy('name').execute();
  return rows.map(toRow);
}

/**
 * The gateway made the network's VNet (or, in vlan mode, leased its tag): `bridge` is what a NIC names
 * and `tag` the NIC's own tag (vlan mode only; a VNet carries its tag). Only from `creating`.
 */
export async function setNetworkReady(
  db: Db,
  id: string,
  placed: { bridge: string; tag: number | null },
): Promise<boolean> {
  const result = await db
    .updateTable('networks')
    .set({ status: 'ready', bridge: placed.bridge, tag: placed.tag, error: null, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('status', '=', 'creating')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * A network whose making or deletion failed for good: `failed` with the reason, a final state an
 * admin may `DELETE` (again). Only from the state the failed job was moving it out of.
 */
export async function setNetworkFailed(
  db: Db,
  id: string,
  error: string,
  from: 'creating' | 'deleting' = 'creating',
): Promise<void> {
  await db
    .updateTable('networks')
    .set({ status: 'failed', error: error.slice(0, 2000), updated_at: sql`now()` })
    .where('id', '=', id)
    .where('status', '=', from)
    .execute();
}

/** Moves the network to `deleting` unless a VM not yet destroyed is attached to it (row-locked: one deletion at a time). */
export async function markNetworkDeleting(
  db: Db,
  id: string,
): Promise<{ ok: true } | { ok: false; reason: 'gone' | 'in-use'; vms: number }> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('networks').select('status').where('id', '=', id).forUpdate().executeTakeFirst();
    if (!row) return { ok: false, reason: 'gone', vms: 0 };
    const vms = await countVmsOnNetwork(trx, id);
    if (vms > 0) return { ok: false, reason: 'in-use', vms };
    await trx
      .updateTable('networks')
      .set({ status: 'deleting', updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
    return { ok: true };
  });
}

/** VMs not destroyed whose NIC is on the network (their stored spec names it). */
export async function countVmsOnNetwork(db: Db, networkId: string): Promise<number> {
  const row = await db
    .selectFrom('vms')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where(sql<boolean>`spec -> 'attachment' ->> 'networkId' = ${networkId}`)
    .where('status', '!=', 'destroyed')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function deleteNetworkRow(db: Db, id: string): Promise<void> {
  await db.deleteFrom('networks').where('id', '=', id).execute();
}

/** The ids of every network of a platform (the overseer tells their leases from leaked ones). */
export async function listNetworkIds(db: Db, platformId: string): Promise<Set<string>> {
  const rows = await db.selectFrom('networks').select('id').where('platform_id', '=', platformId).execute();
  return new Set(rows.map((row) => row.id));
}
