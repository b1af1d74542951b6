import { type Kysely, sql } from 'kysely';

// Schema v1. Migrations receive Kysely<any>: they describe the database as it was at that point in
// history, not as the current typed interface says it is.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Db = Kysely<any>;

const now = sql`now()`;

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('platforms')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('proxmox'))
    .addColumn('api_url', 'text', (c) => c.notNull())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('token_id', 'text', (c) => c.notNull())
    .addColumn('tls_fingerprint', 'text')
    .addColumn('ssh_host', 'text')
    .addColumn('ssh_user', 'text')
    .addColumn('ssh_host_key', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();

  // Secrets at rest: AES-256-GCM sealed with GLASSDOME_SECRET_KEY; never readable without it.
  await db.schema
    .createTable('credentials')
    .addColumn('platform_id', 'text', (c) => c.notNull().references('platforms.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('credentials_pk', ['platform_id', 'kind'])
    .execute();

  await db.schema
    .createTable('templates')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('platform_id', 'text', (c) => c.notNull())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('os', 'text', (c) => c.notNull())
    .addColumn('vmid', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('config_digest', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addUniqueConstraint('templates_platform_node_os', ['platform_id', 'node', 'os'])
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('labs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('platform_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('spec', 'jsonb', (c) => c.notNull())
    .addColumn('graph', 'jsonb', (c) => c.notNull())
    .addColumn('on_failure', 'text', (c) => c.notNull())
    .addColumn('copies', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('error', 'text')
    .addColumn('request_id', 'text')
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();
  await sql`CREATE UNIQUE INDEX labs_active_name ON labs (name) WHERE status <> 'destroyed'`.execute(db);

  await db.schema
    .createTable('vms')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('lab_id', 'uuid', (c) => c.references('labs.id').onDelete('cascade'))
    .addColumn('copy', 'integer')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('os', 'text', (c) => c.notNull())
    .addColumn('platform_id', 'text', (c) => c.notNull())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('vmid', 'integer')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('desired_state', 'text', (c) => c.notNull().defaultTo('running'))
    .addColumn('observed_status', 'text')
    .addColumn('observed_at', 'timestamptz')
    .addColumn('ip', 'text')
    .addColumn('spec', 'jsonb', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('request_id', 'text')
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();
  await sql`CREATE UNIQUE INDEX vms_active_standalone_name ON vms (name)
            WHERE lab_id IS NULL AND status <> 'destroyed'`.execute(db);
  await sql`CREATE UNIQUE INDEX vms_lab_copy_name ON vms (lab_id, copy, name) WHERE lab_id IS NOT NULL`.execute(db);
  await db.schema.createIndex('vms_platform_vmid').on('vms').columns(['platform_id', 'vmid']).execute();

  await db.schema
    .createTable('steps')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('vm_id', 'uuid', (c) => c.references('vms.id').onDelete('cascade'))
    .addColumn('lab_id', 'uuid', (c) => c.references('labs.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('queued_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('error', 'text')
    .addColumn('detail', 'jsonb')
    .addCheckConstraint('steps_owner', sql`vm_id IS NOT NULL OR lab_id IS NOT NULL`)
    .execute();
  await sql`CREATE UNIQUE INDEX steps_vm_name ON steps (vm_id, name) WHERE vm_id IS NOT NULL`.execute(db);
  await sql`CREATE UNIQUE INDEX steps_lab_name ON steps (lab_id, name) WHERE vm_id IS NULL`.execute(db);

  await db.schema
    .createTable('events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('lab_id', 'uuid')
    .addColumn('vm_id', 'uuid')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb')
    .execute();
  await db.schema.createIndex('events_lab').on('events').columns(['lab_id', 'id']).execute();
  await db.schema.createIndex('events_vm').on('events').columns(['vm_id', 'id']).execute();

  await db.schema
    .createTable('alerts')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('dedup_key', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb')
    .addColumn('first_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('acknowledged_at', 'timestamptz')
    .addColumn('acknowledged_by', 'text')
    .addColumn('resolved_at', 'timestamptz')
    .execute();
  await sql`CREATE UNIQUE INDEX alerts_live_dedup ON alerts (dedup_key) WHERE state <> 'resolved'`.execute(db);

  await db.schema
    .createTable('vmid_leases')
    .addColumn('platform_id', 'text', (c) => c.notNull())
    .addColumn('vmid', 'integer', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('vmid_leases_pk', ['platform_id', 'vmid'])
    .execute();
  await db.schema.createIndex('vmid_leases_owner').on('vmid_leases').column('owner').execute();

  await db.schema
    .createTable('network_leases')
    .addColumn('platform_id', 'text', (c) => c.notNull())
    .addColumn('tag', 'integer', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('lab_id', 'uuid')
    .addColumn('network', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('network_leases_pk', ['platform_id', 'tag'])
    .addUniqueConstraint('network_leases_owner', ['platform_id', 'owner'])
    .execute();

  await db.schema
    .createTable('ssh_host_keys')
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('key_type', 'text')
    .addColumn('trusted_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('ssh_host_keys_pk', ['host', 'port'])
    .execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('api_key_id', 'uuid', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer', (c) => c.notNull())
    .addColumn('response', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['api_key_id', 'key'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  for (const table of [
    'idempotency_keys',
    'ssh_host_keys',
    'network_leases',
    'vmid_leases',
    'alerts',
    'events',
    'steps',
    'vms',
    'labs',
    'api_keys',
    'templates',
    'credentials',
    'platforms',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
