import { sql } from 'kysely';
import type { Db } from '../connection';
import { ALL_PROJECTS, type Scope, scopeCondition } from '../scope';

export interface NewTemplate {
  platformId: string;
  node: string;
  os: string;
  vmid: number;
  name: string;
  /** @defaultValue 'default' */
  project?: string;
}

/** Inserts a queued template row; undefined when the project has one for that platform, node and OS. */
export async function insertTemplate(db: Db, template: NewTemplate): Promise<string | undefined> {
  const row = await db
    .insertInto('templates')
    .values({
      platform_id: template.platformId,
      node: template.node,
      os: template.os,
      vmid: template.vmid,
      name: template.name,
      status: 'queued',
      project: template.project ?? 'default',
    })
    .onConflict((oc) => oc.columns(['platform_id', 'node', 'os', 'project']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

/**
 * The template for that platform, node and OS a VM of `project` may clone: the project's own first,
 * else one an admin published (without `project`: any project's).
 */
export async function findTemplate(db: Db, where: { platformId: string; node: string; os: string; project?: string }) {
  let query = db
    .selectFrom('templates')
    .selectAll()
    .where('platform_id', '=', where.platformId)
    .where('node', '=', where.node)
    .where('os', '=', where.os);
  if (where.project !== undefined) {
    query = query
      .where(scopeCondition('templates', { kind: 'project', project: where.project }))
      .orderBy(sql`project = ${where.project}`, 'desc');
  }
  return query.orderBy('created_at').executeTakeFirst();
}

/** The template registered at this VMID, if `scope` may use it. */
export async function findTemplateByVmid(db: Db, platformId: string, vmid: number, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('templates')
    .selectAll()
    .where('platform_id', '=', platformId)
    .where('vmid', '=', vmid)
    .where(scopeCondition('templates', scope))
    .executeTakeFirst();
}

/** The templates registered under this name (a lab spec may name a template instead of its VMID) `scope` may use. */
export async function findTemplatesByName(db: Db, platformId: string, name: string, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('templates')
    .selectAll()
    .where('platform_id', '=', platformId)
    .where('name', '=', name)
    .where(scopeCondition('templates', scope))
    .execute();
}

export async function listTemplates(db: Db, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('templates')
    .selectAll()
    .where(scopeCondition('templates', scope))
    .orderBy('node')
    .orderBy('os')
    .execute();
}

/** Makes a template usable by every project (or its own project's again); returns whether it exists. */
export async function setTemplatePublished(db: Db, id: string, published: boolean): Promise<boolean> {
  const result = await db
    .updateTable('templates')
    .set({ published, updated_at: sql`now()` })
    .where('id', '=', id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function setTemplateStatus(db: Db, id: string, status: string, error: string | null = null) {
  await db.updateTable('templates').set({ status, error, updated_at: sql`now()` }).where('id', '=', id).execute();
}

export async function deleteTemplate(db: Db, id: string): Promise<void> {
  await db.deleteFrom('templates').where('id', '=', id).execute();
}

export async function getTemplate(db: Db, id: string, scope: Scope = ALL_PROJECTS) {
  return db
    .selectFrom('templates')
    .selectAll()
    .where('id', '=', id)
    .where(scopeCondition('templates', scope))
    .executeTakeFirst();
}

/** Sets the template's status and, when given, its error and config digest (absent fields are kept). */
export async function updateTemplate(
  db: Db,
  id: string,
  changes: { status: string; error?: string | null; configDigest?: string | null },
): Promise<void> {
  await db
    .updateTable('templates')
    .set({
      status: changes.status,
      ...(changes.error === undefined ? {} : { error: changes.error }),
      ...(changes.configDigest === undefined ? {} : { config_digest: changes.configDigest }),
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .execute();
}

/** A platform's templates in this status. */
export async function listTemplatesOfPlatform(db: Db, platformId: string, status: string) {
  return db
    .selectFrom('templates')
    .select(['id', 'node', 'os', 'vmid', 'name', 'config_digest'])
    .where('platform_id', '=', platformId)
    .where('status', '=', status)
    .execute();
}

/**
 * Moves a template from one of `from` to `to` in one conditional UPDATE (clearing its error); false
 * when its status was not one of them (or it is gone), so of two racing requests one wins.
 */
export async function moveTemplateStatus(
  db: Db,
  id: string,
  change: { from: readonly string[]; to: string; error?: string | null },
): Promise<boolean> {
  const result = await db
    .updateTable('templates')
    .set({ status: change.to, error: change.error ?? null, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('status', 'in', [...change.from])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Deletes the template when its status is one of `statuses`; false otherwise (or when it is gone). */
export async function deleteTemplateIn(db: Db, id: string, statuses: readonly string[]): Promise<boolean> {
  const result = await db
    .deleteFrom('templates')
    .where('id', '=', id)
    .where('status', 'in', [...statuses])
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
