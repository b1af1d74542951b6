import { type Migration, type MigrationResultSet, Migrator } from 'kysely';
import type { Db } from './connection';
import * as initial from './migrations/0001_initial';
import * as labRuns from './migrations/0002_lab_runs';
import * as statusChecks from './migrations/0003_status_checks';
import * as outbox from './migrations/0004_outbox';
import * as projects from './migrations/0005_projects';
import * as labIsolation from './migrations/0006_lab_isolation';
import * as exercises from './migrations/0007_exercises';
import * as changeFeedRanges from './migrations/0008_change_feed_ranges';
import * as listKeysets from './migrations/0009_list_keysets';
import * as projectUsage from './migrations/0010_project_usage';
import * as vmHostKeys from './migrations/0011_vm_host_keys';
import * as networks from './migrations/0012_networks';
import * as plannedSteps from './migrations/0013_planned_steps';
import * as labTaskDone from './migrations/0014_lab_task_done';
import * as vmUsagePerStatement from './migrations/0015_vm_usage_per_statement';
import * as vmUsageRowTriggerOps from './migrations/0016_vm_usage_row_trigger_ops';
import * as shownSteps from './migrations/0017_shown_steps';
import * as stepTotalsRows from './migrations/0018_step_totals_rows';
import * as changeFeedListeners from './migrations/0019_change_feed_listeners';

/** Every migration, in order. Listed statically so bundled apps carry them. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_lab_runs': labRuns,
  '0003_status_checks': statusChecks,
  '0004_outbox': outbox,
  '0005_projects': projects,
  '0006_lab_isolation': labIsolation,
  '0007_exercises': exercises,
  '0008_change_feed_ranges': changeFeedRanges,
  '0009_list_keysets': listKeysets,
  '0010_project_usage': projectUsage,
  '0011_vm_host_keys': vmHostKeys,
  '0012_networks': networks,
  '0013_planned_steps': plannedSteps,
  '0014_lab_task_done': labTaskDone,
  '0015_vm_usage_per_statement': vmUsagePerStatement,
  '0016_vm_usage_row_trigger_ops': vmUsageRowTriggerOps,
  '0017_shown_steps': shownSteps,
  '0018_step_totals_rows': stepTotalsRows,
  '0019_change_feed_listeners': changeFeedListeners,
};

function migrator(db: Db): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

export class MigrationError extends Error {
  constructor(
    readonly migration: string | undefined,
    override readonly cause: unknown,
  ) {
    super(`migration ${migration ?? '(unknown)'} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'MigrationError';
  }
}

function check(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new MigrationError(failed?.migrationName, result.error);
  }
  return (result.results ?? []).map((r) => `${r.direction} ${r.migrationName}`);
}

/**
 * Brings the schema to the newest version. Kysely takes its migration lock (a row lock in
 * `kysely_migration_lock`) first, so any number of processes may call this at start-up at once.
 * Returns what ran.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  return check(await migrator(db).migrateToLatest());
}

/** Undoes the newest migration. */
export async function migrateDown(db: Db): Promise<string[]> {
  return check(await migrator(db).migrateDown());
}

/** Undoes every migration. */
export async function migrateToEmpty(db: Db): Promise<string[]> {
  const { NO_MIGRATIONS } = await import('kysely');
  return check(await migrator(db).migrateTo(NO_MIGRATIONS));
}
