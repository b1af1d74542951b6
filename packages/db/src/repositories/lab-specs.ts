/**
 * Saved lab specs: a project's own library, versioned. Saving under an existing name adds the next
 * version; a deploy names the spec and optionally a version (the newest otherwise).
 */
import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';
import type { Scope } from '../scope';

function visible(scope: Scope) {
  if (scope.kind === 'all') return sql<boolean>`true`;
  if (scope.kind === 'copy') return sql<boolean>`false`;
  return sql<boolean>`lab_specs.project = ${scope.project}`;
}

/**
 * Stores `spec` as the next version of `name` in `project` and returns that version. The project's
 * rows of that name are locked first, so two saves at once get two versions.
 */
export async function insertLabSpecVersion(
  trx: Db,
  entry: { project: string; name: string; spec: JsonValue; description?: string | null; createdBy?: string | null },
): Promise<{ id: string; version: number }> {
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`lab_specs:${entry.project}:${entry.name}`}))`.execute(trx);
  const latest = await trx
    .selectFrom('lab_specs')
    .select(sql<number>`coalesce(max(version), 0)::int`.as('version'))
    .where('project', '=', entry.project)
    .where('name', '=', entry.name)
    .executeTakeFirstOrThrow();
  const version = latest.version + 1;
  const row = await trx
    .insertInto('lab_specs')
    .values({
      project: entry.project,
      name: entry.name,
      version,
      spec: JSON.stringify(entry.spec),
      description: entry.description ?? null,
      created_by: entry.createdBy ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, version };
}

/** One version of a saved spec (the newest when `version` is left out), as `scope` may see it. */
export async function getLabSpec(db: Db, where: { name: string; version?: number; project?: string }, scope: Scope) {
  let query = db.selectFrom('lab_specs').selectAll().where('name', '=', where.name).where(visible(scope));
  if (where.project !== undefined) query = query.where('project', '=', where.project);
  if (where.version !== undefined) query = query.where('version', '=', where.version);
  return query.orderBy('version', 'desc').limit(1).executeTakeFirst();
}

/** The newest version of each saved spec `scope` may see, with how many versions it has. */
export async function listLabSpecs(db: Db, scope: Scope) {
  return db
    .selectFrom('lab_specs')
    .select([
      'project',
      'name',
      sql<number>`max(version)::int`.as('latest'),
      sql<number>`count(*)::int`.as('versions'),
      sql<Date>`max(created_at)`.as('updated_at'),
    ])
    .where(visible(scope))
    .groupBy(['project', 'name'])
    .orderBy('project')
    .orderBy('name')
    .execute();
}

/** Every version of one saved spec, newest first (without the specs themselves). */
export async function listLabSpecVersions(db: Db, where: { name: string; project?: string }, scope: Scope) {
  let query = db
    .selectFrom('lab_specs')
    .select(['id', 'project', 'name', 'version', 'description', 'created_by', 'created_at'])
    .where('name', '=', where.name)
    .where(visible(scope));
  if (where.project !== undefined) query = query.where('project', '=', where.project);
  return query.orderBy('version', 'desc').execute();
}

/** Deletes every version of a saved spec in one project; returns how many rows went. */
export async function deleteLabSpec(db: Db, where: { name: string; project: string }): Promise<number> {
  const result = await db
    .deleteFrom('lab_specs')
    .where('name', '=', where.name)
    .where('project', '=', where.project)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
