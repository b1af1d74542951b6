import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * Status columns hold only the states of the lab-run state machines (`@glassdome/lab`'s
 * lifecycle/states.ts; a lab-run test compares these lists with it). A VM of a cancelled lab is now
 * `cancelled`. The lists are written out here, not imported: a migration states the schema as it was
 * when it was written.
 */
const CHECKS = {
  labs: ['queued', 'deploying', 'ready', 'degraded', 'failed', 'cancelled', 'destroying', 'destroyed'],
  vms: ['queued', 'deploying', 'ready', 'failed', 'cancelled', 'destroying', 'destroyed'],
  steps: ['pending', 'running', 'done', 'failed', 'skipped'],
} as const;

export async function up(db: Db): Promise<void> {
  for (const [table, statuses] of Object.entries(CHECKS)) {
    const list = sql.join(statuses.map((status) => sql.lit(status)));
    await sql`ALTER TABLE ${sql.table(table)} ADD CONSTRAINT ${sql.ref(`${table}_status_check`)} CHECK (status IN (${list}))`.execute(
      db,
    );
  }
}

export async function down(db: Db): Promise<void> {
  for (const table of Object.keys(CHECKS)) {
    await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${sql.ref(`${table}_status_check`)}`.execute(db);
  }
}
