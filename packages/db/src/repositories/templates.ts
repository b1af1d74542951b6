import { sql } from 'kysely';
import type { Db } from '../connection';

export interface NewTemplate {
  platformId: string;
  node: string;
  os: string;
  vmid: number;
  name: string;
}

/** Inserts a queued template row; undefined when one for that platform, node and OS exists. */
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
    })
    .onConflict((oc) => oc.columns(['platform_id', 'node', 'os']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

export async function findTemplate(db: Db, where: { platformId: string; node: string; os: string }) {
  return db
    .selectFrom('templates')
    .selectAll()
    .where('platform_id', '=', where.platformId)
    .where('node', '=', where.node)
    .where('os', '=', where.os)
    .executeTakeFirst();
}

export async function listTemplates(db: Db) {
  return db.selectFrom('templates').selectAll().orderBy('node').orderBy('os').execute();
}

export async function setTemplateStatus(db: Db, id: string, status: string, error: string | null = null) {
  await db.updateTable('templates').set({ status, error, updated_at: sql`now()` }).where('id', '=', id).execute();
}

export async function deleteTemplate(db: Db, id: string): Promise<void> {
  await db.deleteFrom('templates').where('id', '=', id).execute();
}

export async function getTemplate(db: Db, id: string) {
  return db.selectFrom('templates').selectAll().where('id', '=', id).executeTakeFirst();
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
