import { sql } from 'kysely';
import type { Db } from '../connection';
import { inPageOrder, type Keyset, type PageRequest, pageOf, pageQuery } from '../paging';
import type { JsonValue } from '../schema';
import { ALL_PROJECTS, type Scope, scopeCondition } from '../scope';
import { jsonTimeAs } from './steps';

/**
 * The order of `listAlerts`: last seen first (alerts_seen_* indexes, migration 0009). An alert seen
 * again while a client pages moves to the front: it may then show up once more, or not at all, in
 * the pages that client has still to read.
 */
export const ALERTS_LAST_SEEN: Keyset = { list: 'alerts', at: 'alerts.last_seen_at', id: 'alerts.id', idType: 'uuid' };

/**
 * Alerts, last seen first, one page of them: every column, in the table's order, its times as JSON
 * prints them (`jsonTime`; four per alert, each a Date parsed only to be printed again otherwise),
 * written for the page's rows once it is cut (a deprecated offset skips rows unwritten).
 */
export async function listAlerts(
  db: Db,
  filter: { state?: string | undefined; severity?: string | undefined } & PageRequest,
  scope: Scope = ALL_PROJECTS,
) {
  let query = db.selectFrom('alerts').selectAll().where(scopeCondition('alerts', scope));
  if (filter.state) query = query.where('state', '=', filter.state);
  if (filter.severity) query = query.where('severity', '=', filter.severity);
  const rows = await inPageOrder(db.selectFrom(pageQuery(query, ALERTS_LAST_SEEN, filter).as('page')), ALERTS_LAST_SEEN)
    .select([
      'page.id',
      'page.dedup_key',
      'page.kind',
      'page.severity',
      'page.subject',
      'page.message',
      'page.state',
      'page.data',
      jsonTimeAs('page.first_seen_at', 'first_seen_at'),
      jsonTimeAs('page.last_seen_at', 'last_seen_at'),
      jsonTimeAs('page.acknowledged_at', 'acknowledged_at', true),
      'page.acknowledged_by',
      jsonTimeAs('page.resolved_at', 'resolved_at', true),
      'page.project',
      sql<string>`page.page_key`.as('page_key'),
    ])
    .execute();
  return pageOf(rows, ALERTS_LAST_SEEN, filter);
}

export async function getAlert(db: Db, id: string, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('alerts')
    .selectAll()
    .where('id', '=', id)
    .where(scopeCondition('alerts', scope))
    .executeTakeFirst();
}

/** Acknowledges an open alert `scope` may see; returns the row, or undefined when it was not open. */
export async function acknowledgeAlert(db: Db, id: string, by: string, scope: Scope = ALL_PROJECTS) {
  return db
    .updateTable('alerts')
    .set({ state: 'acknowledged', acknowledged_at: sql`now()`, acknowledged_by: by })
    .where('id', '=', id)
    .where('state', '=', 'open')
    .where(scopeCondition('alerts', scope))
    .returningAll()
    .executeTakeFirst();
}

/** Alerts not resolved, counted by severity. */
export async function countOpenAlertsBySeverity(db: Db, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('alerts')
    .select(['severity', (eb) => eb.fn.countAll<number>().as('count')])
    .where('state', '<>', 'resolved')
    .where(scopeCondition('alerts', scope))
    .groupBy('severity')
    .execute();
}

export interface AlertSighting {
  /** At most one live (open or acknowledged) alert per key: a partial unique index enforces it. */
  dedupKey: string;
  kind: string;
  severity: string;
  subject: string;
  message: string;
  data: JsonValue;
}

/**
 * In one statement: opens an alert for each sighting whose key has no live alert, and refreshes
 * (`last_seen_at`, severity, message, data) the live alert of each other. `opened` says which.
 */
export async function upsertLiveAlerts(db: Db, sightings: readonly AlertSighting[]) {
  if (sightings.length === 0) return [];
  return (
    db
      .insertInto('alerts')
      .values(
        sightings.map((sighting) => ({
          dedup_key: sighting.dedupKey,
          kind: sighting.kind,
          severity: sighting.severity,
          subject: sighting.subject,
          message: sighting.message,
          state: 'open',
          data: JSON.stringify(sighting.data),
        })),
      )
      .onConflict((oc) =>
        oc
          .column('dedup_key')
          .where('state', '<>', 'resolved')
          .doUpdateSet((eb) => ({
            last_seen_at: sql`now()`,
            severity: eb.ref('excluded.severity'),
            message: eb.ref('excluded.message'),
            data: eb.ref('excluded.data'),
          })),
      )
      // xmax is 0 only on a row this statement inserted (an update sets it).
      .returning(['id', 'dedup_key', 'first_seen_at', sql<boolean>`(xmax = 0)`.as('opened')])
      .execute()
  );
}

/** Resolves every live alert whose key starts with `keyPrefix` and is not in `keep`; returns those. */
export async function resolveLiveAlertsExcept(db: Db, keyPrefix: string, keep: readonly string[]) {
  return db
    .updateTable('alerts')
    .set({ state: 'resolved', resolved_at: sql`now()` })
    .where('state', '<>', 'resolved')
    .where('dedup_key', 'like', `${keyPrefix.replace(/[%_\\]/g, '\\$&')}%`)
    .where(sql<boolean>`not (dedup_key = any(${[...keep]}::text[]))`)
    .returning(['id', 'dedup_key', 'subject'])
    .execute();
}
