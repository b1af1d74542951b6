import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/** The status lists as of this migration (written out: a migration states the schema as it was). */
const CHECKS = {
  labs: ['queued', 'deploying', 'ready', 'degraded', 'reverting', 'failed', 'cancelled', 'destroying', 'destroyed'],
  vms: ['queued', 'deploying', 'ready', 'reverting', 'failed', 'cancelled', 'destroying', 'destroyed'],
} as const;

const BEFORE = {
  labs: ['queued', 'deploying', 'ready', 'degraded', 'failed', 'cancelled', 'destroying', 'destroyed'],
  vms: ['queued', 'deploying', 'ready', 'failed', 'cancelled', 'destroying', 'destroyed'],
} as const;

async function replaceStatusChecks(db: Db, lists: Record<string, readonly string[]>): Promise<void> {
  for (const [table, statuses] of Object.entries(lists)) {
    const constraint = sql.ref(`${table}_status_check`);
    const list = sql.join(statuses.map((status) => sql.lit(status)));
    await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${constraint}`.execute(db);
    await sql`ALTER TABLE ${sql.table(table)} ADD CONSTRAINT ${constraint} CHECK (status IN (${list}))`.execute(db);
  }
}

/**
 * Exercises: snapshots of lab VMs and the operations (snapshot, revert, testing mode) that act on
 * them, labs and VMs `reverting`, warm pools of ready lab copies, saved lab specs per project, and
 * what a lab remembers of how it came to be (its first `ready`, the pool it was claimed from, testing
 * mode, the template and parameters it was deployed with).
 */
export async function up(db: Db): Promise<void> {
  await replaceStatusChecks(db, CHECKS);

  await db.schema
    .createTable('pools')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('project', 'text', (c) => c.notNull().references('projects.name'))
    .addColumn('source', 'jsonb', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('pools_size', sql`size >= 0`)
    .addCheckConstraint('pools_status', sql`status IN ('active', 'draining')`)
    .execute();

  await db.schema
    .alterTable('labs')
    .addColumn('first_ready_at', 'timestamptz')
    .addColumn('source', 'jsonb')
    .addColumn('pool_id', 'uuid', (c) => c.references('pools.id').onDelete('set null'))
    .addColumn('claimed_at', 'timestamptz')
    .addColumn('claim_ms', 'integer')
    .addColumn('testing', 'jsonb')
    .execute();
  await sql`CREATE INDEX labs_pool ON labs (pool_id, status) WHERE pool_id IS NOT NULL AND claimed_at IS NULL`.execute(
    db,
  );

  await db.schema
    .createTable('vm_snapshots')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('vm_id', 'uuid', (c) => c.notNull().references('vms.id').onDelete('cascade'))
    .addColumn('lab_id', 'uuid', (c) => c.notNull().references('labs.id').onDelete('cascade'))
    .addColumn('copy', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('with_ram', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('error', 'text')
    .addColumn('operation_id', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('vm_snapshots_status', sql`status IN ('creating', 'ready', 'failed', 'deleting')`)
    .addCheckConstraint('vm_snapshots_scope', sql`scope IN ('vm', 'copy', 'lab')`)
    .execute();
  await sql`CREATE UNIQUE INDEX vm_snapshots_vm_name ON vm_snapshots (vm_id, name)`.execute(db);
  await db.schema.createIndex('vm_snapshots_lab').on('vm_snapshots').columns(['lab_id', 'name']).execute();

  await db.schema
    .createTable('lab_operations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('lab_id', 'uuid', (c) => c.notNull().references('labs.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('target', 'jsonb', (c) => c.notNull())
    .addColumn('snapshot', 'text')
    .addColumn('options', 'jsonb')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('queued'))
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('requested_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addCheckConstraint(
      'lab_operations_kind',
      sql`kind IN ('snapshot', 'revert', 'delete-snapshot', 'testing-start', 'testing-stop', 'claim')`,
    )
    .addCheckConstraint('lab_operations_status', sql`status IN ('queued', 'running', 'done', 'failed')`)
    .execute();
  await db.schema.createIndex('lab_operations_lab').on('lab_operations').columns(['lab_id', 'created_at']).execute();

  await db.schema
    .createTable('lab_specs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('project', 'text', (c) => c.notNull().references('projects.name'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('spec', 'jsonb', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('lab_specs_project_name_version', ['project', 'name', 'version'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('lab_specs').execute();
  await db.schema.dropTable('lab_operations').execute();
  await db.schema.dropTable('vm_snapshots').execute();
  await sql`DROP INDEX labs_pool`.execute(db);
  await sql`ALTER TABLE labs DROP COLUMN first_ready_at, DROP COLUMN source, DROP COLUMN pool_id,
            DROP COLUMN claimed_at, DROP COLUMN claim_ms, DROP COLUMN testing`.execute(db);
  await db.schema.dropTable('pools').execute();
  await sql`UPDATE labs SET status = 'ready' WHERE status = 'reverting'`.execute(db);
  await sql`UPDATE vms SET status = 'ready' WHERE status = 'reverting'`.execute(db);
  await replaceStatusChecks(db, BEFORE);
}
