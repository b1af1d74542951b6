import { sql } from 'kysely';
import type { Db } from '../connection';

export async function listAlerts(db: Db, filter: { state?: string; severity?: string; limit: number; offset: number }) {
  let query = db.selectFrom('alerts').selectAll();
  if (filter.state) query = query.where('state', '=', filter.state);
  if (filter.severity) query = query.where('severity', '=', filter.severity);
  return query.orderBy('last_seen_at', 'desc').orderBy('id').limit(filter.limit).offset(filter.offset).execute();
}

export async function getAlert(db: Db, id: string) {
  return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Acknowledges an open alert; returns the row, or undefined when it was not open. */
export async function acknowledgeAlert(db: Db, id: string, by: string) {
  return db
    .updateTable('alerts')
    .set({ state: 'acknowledged', acknowledged_at: sql`now()`, acknowledged_by: by })
    .where('id', '=', id)
    .where('state', '=', 'open')
    .returningAll()
    .executeTakeFirst();
}

/** Alerts not resolved, counted by severity. */
export async function countOpenAlertsBySeverity(db: Db) {
  return db
    .selectFrom('alerts')
    .select(['severity', (eb) => eb.fn.countAll<number>().as('count')])
    .where('state', '<>', 'resolved')
    .groupBy('severity')
    .execute();
}
