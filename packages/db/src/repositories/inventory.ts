import type { Db } from '../connection';
import { ALL_PROJECTS, type Scope, scopeCondition } from '../scope';

/** Every VM Glassdome still owns, with desired and last observed state side by side. */
export async function listVmInventory(db: Db, scope: Scope = ALL_PROJECTS) {
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
    .where(scopeCondition('vms', scope))
    .orderBy('node')
    .orderBy('vmid')
    .orderBy('name')
    .execute();
}

/** Events of kinds starting with `prefix` since `since`, newest first. */
export async function listRecentEventsOfKind(
  db: Db,
  prefix: string,
  since: Date,
  limit = 500,
  scope: Scope = ALL_PROJECTS,
) {
  return db
    .selectFrom('events')
    .selectAll()
    .where(scopeCondition('events', scope))
    .where('private', '=', false)
    .where('kind', 'like', `${prefix.replace(/[%_\\]/g, '\\$&')}%`)
    .where('at', '>=', since)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/**
 * Finished steps by name and outcome: how many, and their total seconds (for metrics). Read from
 * the totals a trigger keeps as steps finish, never from the steps table itself.
 */
export async function stepDurationTotals(db: Db) {
  return db.selectFrom('step_totals').select(['name', 'status', 'count', 'seconds']).execute();
}
