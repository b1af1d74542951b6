import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * The transactional outbox: the intent to enqueue a job (or start a lab's flow) is a row written in
 * the same transaction as the state it acts on; a relay moves rows to BullMQ and deletes them. A
 * crash between the commit and the enqueue leaves the row for the relay, never a row with no job.
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('outbox')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('intent', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('outbox').execute();
}
