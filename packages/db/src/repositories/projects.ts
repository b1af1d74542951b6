import { sql } from 'kysely';
import type { Db } from '../connection';

/** A project's own quota overrides; null means the configured default applies. */
export interface ProjectQuotaOverrides {
  maxVms: number | null;
  maxCopies: number | null;
  maxVcpus: number | null;
  maxMemoryMiB: number | null;
  maxLabTtlSeconds: number | null;
}

/** What a project holds now: VMs not destroyed, their vCPUs and memory, and lab copies not destroyed. */
export interface ProjectUsage {
  vms: number;
  copies: number;
  vcpus: number;
  memoryMiB: number;
}

/** Creates the project unless it exists (projects are made on first use). */
export async function ensureProject(db: Db, name: string): Promise<void> {
  await db
    .insertInto('projects')
    .values({ name })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

function overridesOf(row: {
  max_vms: number | null;
  max_copies: number | null;
  max_vcpus: number | null;
  max_memory_mib: number | null;
  max_lab_ttl_seconds: number | null;
}): ProjectQuotaOverrides {
  return {
    maxVms: row.max_vms,
    maxCopies: row.max_copies,
    maxVcpus: row.max_vcpus,
    maxMemoryMiB: row.max_memory_mib,
    maxLabTtlSeconds: row.max_lab_ttl_seconds,
  };
}

export async function getProject(db: Db, name: string) {
  const row = await db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
  return row && { name: row.name, createdAt: row.created_at, quotas: overridesOf(row) };
}

export async function listProjects(db: Db) {
  const rows = await db.selectFrom('projects').selectAll().orderBy('name').execute();
  return rows.map((row) => ({ name: row.name, createdAt: row.created_at, quotas: overridesOf(row) }));
}

/** Creates the project if needed and sets the given overrides (fields left out are kept). */
export async function setProjectQuotas(db: Db, name: string, quotas: Partial<ProjectQuotaOverrides>): Promise<void> {
  await ensureProject(db, name);
  const columns = {
    ...(quotas.maxVms === undefined ? {} : { max_vms: quotas.maxVms }),
    ...(quotas.maxCopies === undefined ? {} : { max_copies: quotas.maxCopies }),
    ...(quotas.maxVcpus === undefined ? {} : { max_vcpus: quotas.maxVcpus }),
    ...(quotas.maxMemoryMiB === undefined ? {} : { max_memory_mib: quotas.maxMemoryMiB }),
    ...(quotas.maxLabTtlSeconds === undefined ? {} : { max_lab_ttl_seconds: quotas.maxLabTtlSeconds }),
  };
  await db
    .updateTable('projects')
    .set({ ...columns, updated_at: sql`now()` })
    .where('name', '=', name)
    .execute();
}

/**
 * Takes the project's row lock for the rest of the transaction, so two deploys into one project are
 * checked against its quotas one after the other (never both against the same usage). Creates the
 * project first when it does not exist yet; returns its overrides.
 */
export async function lockProject(trx: Db, name: string): Promise<ProjectQuotaOverrides> {
  await ensureProject(trx, name);
  const row = await trx
    .selectFrom('projects')
    .selectAll()
    .where('name', '=', name)
    .forUpdate()
    .executeTakeFirstOrThrow();
  return overridesOf(row);
}

/**
 * What the project holds now (everything not destroyed counts), from the counters triggers keep
 * (migration 0010): one row, locked for the rest of the transaction, so every quota check of the
 * project — labs, VMs, the one-statement VM deploy — waits for the one before it to commit.
 */
export async function projectUsage(db: Db, project: string): Promise<ProjectUsage> {
  const row = await sql<{ vms: number; vcpus: number; memory_mib: number; copies: number }>`
    SELECT vms, vcpus::int AS vcpus, memory_mib::int AS memory_mib, copies FROM project_usage
    WHERE project = ${project} FOR UPDATE`
    .execute(db)
    .then((result) => result.rows[0]);
  return row
    ? { vms: row.vms, copies: row.copies, vcpus: row.vcpus, memoryMiB: row.memory_mib }
    : { vms: 0, copies: 0, vcpus: 0, memoryMiB: 0 };
}

/** The sums the counters stand for, computed from the tables (slow; for checks and repairs). */
export async function countProjectUsage(db: Db, project: string): Promise<ProjectUsage> {
  const vms = await db
    .selectFrom('vms')
    .select([
      sql<number>`count(*)::int`.as('vms'),
      sql<number>`coalesce(sum((spec->>'cpus')::int), 0)::int`.as('vcpus'),
      sql<number>`coalesce(sum((spec->>'memoryMiB')::int), 0)::int`.as('memory'),
    ])
    .where('project', '=', project)
    .where('status', '<>', 'destroyed')
    .executeTakeFirstOrThrow();
  const labs = await db
    .selectFrom('labs')
    .select(sql<number>`coalesce(sum(copies), 0)::int`.as('copies'))
    .where('project', '=', project)
    .where('status', '<>', 'destroyed')
    .executeTakeFirstOrThrow();
  return { vms: vms.vms, copies: labs.copies, vcpus: vms.vcpus, memoryMiB: vms.memory };
}
