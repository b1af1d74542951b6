import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

export interface NewVm {
  labId?: string | null;
  copy?: number | null;
  name: string;
  os: string;
  platformId: string;
  node: string;
  spec: JsonValue;
  requestId?: string | null;
  createdBy?: string | null;
}

/** Inserts queued VMs and returns their ids in input order. */
export async function insertVms(db: Db, vms: NewVm[]): Promise<string[]> {
  if (vms.length === 0) return [];
  const rows = await db
    .insertInto('vms')
    .values(
      vms.map((vm) => ({
        lab_id: vm.labId ?? null,
        copy: vm.copy ?? null,
        name: vm.name,
        os: vm.os,
        platform_id: vm.platformId,
        node: vm.node,
        status: 'queued',
        spec: JSON.stringify(vm.spec),
        request_id: vm.requestId ?? null,
        created_by: vm.createdBy ?? null,
      })),
    )
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

export async function getVm(db: Db, id: string) {
  return db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Standalone VMs (not part of a lab), newest first. */
export async function listStandaloneVms(db: Db, filter: { status?: string; limit: number; offset: number }) {
  let query = db.selectFrom('vms').selectAll().where('lab_id', 'is', null);
  if (filter.status) query = query.where('status', '=', filter.status);
  return query.orderBy('created_at', 'desc').orderBy('id').limit(filter.limit).offset(filter.offset).execute();
}

export async function listVmsOfLab(db: Db, labId: string) {
  return db.selectFrom('vms').selectAll().where('lab_id', '=', labId).orderBy('copy').orderBy('name').execute();
}

/** Sets a VM's status (and error); `onlyFrom` makes the change conditional. Returns whether a row changed. */
export async function setVmStatus(
  db: Db,
  id: string,
  status: string,
  options: { error?: string | null; onlyFrom?: string[] } = {},
): Promise<boolean> {
  let query = db
    .updateTable('vms')
    .set({ status, updated_at: sql`now()`, ...(options.error === undefined ? {} : { error: options.error }) })
    .where('id', '=', id);
  if (options.onlyFrom) query = query.where('status', 'in', options.onlyFrom);
  const result = await query.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteVm(db: Db, id: string): Promise<void> {
  await db.deleteFrom('vms').where('id', '=', id).execute();
}

/** VM counts by status, for reports and metrics. */
export async function countVmsByStatus(db: Db) {
  return db
    .selectFrom('vms')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy('status')
    .execute();
}
