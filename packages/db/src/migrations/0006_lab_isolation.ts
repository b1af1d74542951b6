import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/** The result of a lab's last isolation check: when, and every probe's expected and observed verdict. */
export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('labs').addColumn('isolation', 'jsonb').execute();
}

export async function down(db: Db): Promise<void> {
  await sql`ALTER TABLE labs DROP COLUMN isolation`.execute(db);
}
