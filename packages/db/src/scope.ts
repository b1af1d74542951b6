/**
 * What a reader may see, as one SQL condition per table: the one place scoping is decided (but for
 * `listStandaloneVms`' fixed statements, which apply the same rule to `vms` by hand). An admin
 * sees everything; a project key sees its project's rows; a trainee key sees one copy of one lab.
 * Repository reads take a `Scope` and add `scopeCondition(table, scope)`; a row outside the scope is
 * simply not found, so the API answers 404 for it exactly as for a row that does not exist.
 */
import { type RawBuilder, type SqlBool, sql } from 'kysely';

export type Scope =
  | { kind: 'all' }
  | { kind: 'project'; project: string }
  | { kind: 'copy'; project: string; labId: string; copy: number };

/** Everything: admins, and the workers (which act for every project). */
export const ALL_PROJECTS: Scope = { kind: 'all' };

export type ScopedTable = 'labs' | 'vms' | 'events' | 'alerts' | 'templates' | 'api_keys';

/** The condition that keeps `table`'s rows (under its own name or `alias`) to those `scope` may see. */
export function scopeCondition(table: ScopedTable, scope: Scope, alias: string = table): RawBuilder<SqlBool> {
  const column = (name: string) => sql.ref(`${alias}.${name}`);
  if (scope.kind === 'all') return sql<SqlBool>`true`;
  if (scope.kind === 'project') {
    if (table === 'templates') return sql<SqlBool>`(${column('project')} = ${scope.project} OR ${column('published')})`;
    return sql<SqlBool>`${column('project')} = ${scope.project}`;
  }
  switch (table) {
    case 'labs':
      return sql<SqlBool>`${column('id')} = ${scope.labId}`;
    case 'vms':
      return sql<SqlBool>`(${column('lab_id')} = ${scope.labId} AND ${column('copy')} = ${scope.copy})`;
    case 'events':
      // Only what happened to the copy's own VMs: lab-wide events may speak of other copies.
      return sql<SqlBool>`(${column('lab_id')} = ${scope.labId} AND ${column('vm_id')} IN
        (SELECT id FROM vms WHERE lab_id = ${scope.labId} AND copy = ${scope.copy}))`;
    default:
      return sql<SqlBool>`false`;
  }
}

/** Whether a row of `project` is inside `scope` (for rows already read). */
export function projectInScope(scope: Scope, project: string): boolean {
  return scope.kind === 'all' || scope.project === project;
}
