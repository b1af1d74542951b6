import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/** Which run of its flow a lab is on: a retry starts run n+1, whose job ids differ from run n's. */
export async function up(db: Db): Promise<void> {
  await db.schema
    .alterTable('labs')
    .addColumn('run', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Db): Promise<void> {
  await sql`ALTER TABLE labs DROP COLUMN run`.execute(db);
}
