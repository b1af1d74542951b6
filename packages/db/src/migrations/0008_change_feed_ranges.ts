import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * The change feed's event notification names the id range its statement inserted
 * (`event:<min>:<max>`): ids of concurrent transactions commit out of order, so a listener that read
 * "everything after the newest id" could skip a row committed late; reading each committed range
 * misses none. And lab names become unique per project, so one project's names say nothing about
 * another's.
 */
export async function up(db: Db): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION glassdome_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM inserted) THEN
        PERFORM pg_notify('glassdome_changes', (SELECT 'event:' || min(id) || ':' || max(id) FROM inserted));
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`DROP INDEX labs_active_name`.execute(db);
  await sql`CREATE UNIQUE INDEX labs_active_project_name ON labs (project, name) WHERE status <> 'destroyed'`.execute(
    db,
  );
}

export async function down(db: Db): Promise<void> {
  await sql`DROP INDEX labs_active_project_name`.execute(db);
  await sql`CREATE UNIQUE INDEX labs_active_name ON labs (name) WHERE status <> 'destroyed'`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION glassdome_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('glassdome_changes', 'event:' || (SELECT max(id) FROM inserted));
      RETURN NULL;
    END $$`.execute(db);
}
