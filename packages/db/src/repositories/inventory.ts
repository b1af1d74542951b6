import { sql } from 'kysely';
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
 * the rows a trigger adds as steps finish (one each, folded now and then by `foldStepTotals`),
 * never from the steps table itself.
 */
export async function stepDurationTotals(db: Db) {
  return db
    .selectFrom('step_totals')
    .select(['name', 'status'])
    .select((eb) => [eb.fn.sum('count').as('count'), eb.fn.sum('seconds').as('seconds')])
    .groupBy(['name', 'status'])
    .execute();
}

/**
 * Folds the finished-step rows into one per (name, status), in one statement: a step finishing
 * meanwhile adds a row this statement does not see, and keeps it. Returns the rows folded away.
 */
export async function foldStepTotals(db: Db): Promise<number> {
  const { rows } = await sql<{ folded: number }>`
    WITH gone AS (DELETE FROM step_totals RETURNING name, status, count, seconds),
      kept AS (
        INSERT INTO step_totals (name, status, count, seconds)
        SELECT name, status, sum(count), sum(seconds) FROM gone GROUP BY name, status
        RETURNING 1)
    SELECT (SELECT count(*) FROM gone)::int - (SELECT count(*) FROM kept)::int AS folded`.execute(db);
  return rows[0]?.folded ?? 0;
}
