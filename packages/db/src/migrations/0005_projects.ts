import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/** Tables whose rows belong to a project; each existing row goes to `default`. */
const OWNED = ['labs', 'vms', 'templates', 'alerts', 'events', 'api_keys'] as const;

/**
 * Projects: every lab, VM, template, alert, event and API key belongs to one, and keys of one project
 * see nothing of another's. A project's quotas are NULL where the configured default applies.
 * Events and alerts take their project from what they are about (a trigger), so no writer can file
 * one under the wrong project or forget to file it. Trainee keys name the lab copy they may read.
 * Also: a change feed (NOTIFY on new events and lab status changes) so event streams need not poll,
 * and finished-step totals kept as steps finish, so metrics never scan the steps table.
 */
export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('projects')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('max_vms', 'integer')
    .addColumn('max_copies', 'integer')
    .addColumn('max_vcpus', 'integer')
    .addColumn('max_memory_mib', 'integer')
    .addColumn('max_lab_ttl_seconds', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`INSERT INTO projects (name) VALUES ('default')`.execute(db);

  for (const table of OWNED) {
    await sql`ALTER TABLE ${sql.table(table)} ADD COLUMN project text NOT NULL DEFAULT 'default'`.execute(db);
  }
  for (const table of ['labs', 'vms', 'templates', 'api_keys'] as const) {
    await sql`ALTER TABLE ${sql.table(table)} ADD CONSTRAINT ${sql.ref(`${table}_project_fk`)}
              FOREIGN KEY (project) REFERENCES projects (name)`.execute(db);
    await db.schema.createIndex(`${table}_project`).on(table).column('project').execute();
  }
  await db.schema.createIndex('events_project').on('events').columns(['project', 'id']).execute();
  await db.schema.createIndex('alerts_project').on('alerts').column('project').execute();

  // A template is usable by its own project, or by every project once an admin publishes it.
  await db.schema
    .alterTable('templates')
    .addColumn('published', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.alterTable('templates').dropConstraint('templates_platform_node_os').execute();
  await db.schema
    .alterTable('templates')
    .addUniqueConstraint('templates_platform_node_os_project', ['platform_id', 'node', 'os', 'project'])
    .execute();
  await sql`CREATE UNIQUE INDEX templates_platform_vmid ON templates (platform_id, vmid)`.execute(db);

  // Trainee keys: one lab copy, read-only.
  await db.schema
    .alterTable('api_keys')
    .addColumn('lab_id', 'uuid', (c) => c.references('labs.id').onDelete('cascade'))
    .addColumn('copy', 'integer')
    .execute();

  // Private events (a provisioning command's text and output) are shown to admins and the key that
  // created the lab or VM only.
  await db.schema
    .alterTable('events')
    .addColumn('private', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.createIndex('events_at').on('events').column('at').execute();
  await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();

  await sql`
    CREATE FUNCTION glassdome_event_project() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.lab_id IS NOT NULL OR NEW.vm_id IS NOT NULL THEN
        NEW.project := coalesce(
          (SELECT project FROM labs WHERE id = NEW.lab_id),
          (SELECT project FROM vms WHERE id = NEW.vm_id),
          NEW.project);
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER events_project BEFORE INSERT ON events
            FOR EACH ROW EXECUTE FUNCTION glassdome_event_project()`.execute(db);

  await sql`
    CREATE FUNCTION glassdome_alert_project() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.project := coalesce(
        (SELECT project FROM labs WHERE id::text = NEW.data->>'labId'),
        (SELECT project FROM vms WHERE id::text = NEW.data->>'vmId'),
        (SELECT project FROM templates WHERE id::text = NEW.data->>'templateId'),
        NEW.project);
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER alerts_project BEFORE INSERT ON alerts
            FOR EACH ROW EXECUTE FUNCTION glassdome_alert_project()`.execute(db);

  // The change feed: one notification per statement, carrying the newest event id, so a listener
  // reads what is new in one query however many streams it serves.
  await sql`
    CREATE FUNCTION glassdome_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('glassdome_changes', 'event:' || (SELECT max(id) FROM inserted));
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER events_notify AFTER INSERT ON events REFERENCING NEW TABLE AS inserted
            FOR EACH STATEMENT EXECUTE FUNCTION glassdome_notify_events()`.execute(db);
  await sql`
    CREATE FUNCTION glassdome_notify_lab_status() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM pg_notify('glassdome_changes', 'lab:' || NEW.id);
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER labs_notify_status AFTER UPDATE OF status ON labs
            FOR EACH ROW EXECUTE FUNCTION glassdome_notify_lab_status()`.execute(db);

  // Finished-step totals, kept as steps finish: /metrics reads a handful of rows.
  await db.schema
    .createTable('step_totals')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('seconds', 'double precision', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('step_totals_pk', ['name', 'status'])
    .execute();
  await sql`
    INSERT INTO step_totals (name, status, count, seconds)
    SELECT name, status, count(*), coalesce(sum(extract(epoch FROM finished_at - started_at)), 0)
    FROM steps WHERE finished_at IS NOT NULL AND started_at IS NOT NULL
    GROUP BY name, status`.execute(db);
  await sql`
    CREATE FUNCTION glassdome_count_step() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL
         AND (OLD.finished_at IS NULL OR OLD.finished_at IS DISTINCT FROM NEW.finished_at) THEN
        INSERT INTO step_totals AS t (name, status, count, seconds)
        VALUES (NEW.name, NEW.status, 1, extract(epoch FROM NEW.finished_at - NEW.started_at))
        ON CONFLICT (name, status) DO UPDATE SET count = t.count + 1, seconds = t.seconds + excluded.seconds;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE TRIGGER steps_count AFTER UPDATE OF finished_at ON steps
            FOR EACH ROW EXECUTE FUNCTION glassdome_count_step()`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`DROP TRIGGER steps_count ON steps`.execute(db);
  await sql`DROP FUNCTION glassdome_count_step()`.execute(db);
  await db.schema.dropTable('step_totals').execute();
  await sql`DROP TRIGGER labs_notify_status ON labs`.execute(db);
  await sql`DROP FUNCTION glassdome_notify_lab_status()`.execute(db);
  await sql`DROP TRIGGER events_notify ON events`.execute(db);
  await sql`DROP FUNCTION glassdome_notify_events()`.execute(db);
  await sql`DROP TRIGGER alerts_project ON alerts`.execute(db);
  await sql`DROP FUNCTION glassdome_alert_project()`.execute(db);
  await sql`DROP TRIGGER events_project ON events`.execute(db);
  await sql`DROP FUNCTION glassdome_event_project()`.execute(db);
  await sql`DROP INDEX idempotency_keys_created`.execute(db);
  await sql`DROP INDEX events_at`.execute(db);
  await sql`ALTER TABLE events DROP COLUMN private`.execute(db);
  await sql`ALTER TABLE api_keys DROP COLUMN lab_id, DROP COLUMN copy`.execute(db);
  await sql`DROP INDEX templates_platform_vmid`.execute(db);
  await db.schema.alterTable('templates').dropConstraint('templates_platform_node_os_project').execute();
  await db.schema
    .alterTable('templates')
    .addUniqueConstraint('templates_platform_node_os', ['platform_id', 'node', 'os'])
    .execute();
  await sql`ALTER TABLE templates DROP COLUMN published`.execute(db);
  for (const table of OWNED) await sql`ALTER TABLE ${sql.table(table)} DROP COLUMN project`.execute(db);
  await db.schema.dropTable('projects').execute();
}
