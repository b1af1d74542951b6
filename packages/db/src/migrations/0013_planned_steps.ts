import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * A standalone VM's deploy plan, kept on its row (a JSON array of step names) instead of as nine
 * step rows written with every deploy: the API's statement then writes one row per VM, and the
 * installer writes the step rows from the plan when it takes the job (`planVmSteps`). Until then
 * readers show the plan as pending steps (`plannedStepRows`). NULL for VMs whose steps were written
 * as rows when they were made (lab VMs, and every VM before this migration).
 */
export async function up(db: Db): Promise<void> {
  await sql`ALTER TABLE vms ADD COLUMN planned_steps jsonb`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`ALTER TABLE vms DROP COLUMN planned_steps`.execute(db);
}
