import { sql } from 'kysely';
import type { Db } from '../connection';

/** Every VM Glassdome still owns, with desired and last observed state side by side. */
export async function listVmInventory(db: Db) {
  return db
    .selectFrom('vms')
    .select([
      'id',
      'name',
      'lab_id',
      'copy',
      'platform_id',
      'node',
      'vmid',
      'ip',
      'status',
      'desired_state',
      'observed_status',
      'observed_at',
    ])
    .where('status', '<>', 'destroyed')
    .orderBy('node')
    .orderBy('vmid')
    .orderBy('name')
    .execute();
}

/** Events of kinds starting with `prefix` since `since`, newest first. */
export async function listRecentEventsOfKind(db: Db, prefix: string, since: Date, limit = 500) {
  return db
    .selectFrom('events')
    .selectAll()
    .where('kind', 'like', `${prefix.replace(/[%_\\]/g, '\\$&')}%`)
    .where('at', '>=', since)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** Finished steps by name and outcome: how many, and their total seconds (for metrics). */
export async function stepDurationTotals(db: Db) {
  return db
    .selectFrom('steps')
    .select([
      'name',
      'status',
      sql<number>`count(*)::int`.as('count'),
      sql<number>`coalesce(sum(extract(epoch from finished_at - started_at)), 0)::float8`.as('seconds'),
    ])
    .where('finished_at', 'is not', null)
    .where('started_at', 'is not', null)
    .groupBy(['name', 'status'])
    .execute();
}
