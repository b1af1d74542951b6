import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * The change feed's event trigger notifies only while some process listens.
 *
 * A transaction that sent a NOTIFY takes, at commit, one lock for the whole database and holds it
 * until its commit is on disk: Postgres queues notifications in commit order. Every statement that
 * inserts events notifies (about 7 per lab VM), so concurrent deploys queued on that lock whether
 * or not anyone listened: on this machine 20 clients committing an insert each ran 3,200–4,100
 * transactions/s with a notification against 8,100–9,700 without. The feed now registers its LISTEN
 * connection here while it listens (`ChangeFeed`), and the triggers notify only when a listener is
 * registered. It registers in a transaction that also takes a SHARE lock on `events`, which waits for
 * every transaction that inserted events before the registration and so may not have notified: none
 * of them commits after the feed starts reading. A row left by a connection that died costs notifications, never a lost one; the next
 * feed to register removes rows whose connection is gone. A lab's status changes (a few per lab)
 * still notify always.
 */
export async function up(db: Db): Promise<void> {
  await sql`
    CREATE TABLE change_feed_listeners (
      pid integer PRIMARY KEY,
      since timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION glassdome_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM change_feed_listeners) AND EXISTS (SELECT 1 FROM inserted) THEN
        PERFORM pg_notify('glassdome_changes', (SELECT 'event:' || min(id) || ':' || max(id) FROM inserted));
      END IF;
      RETURN NULL;
    END $$`.execute(db);
}

/** The function as migration 0008 left it, and no table. */
export async function down(db: Db): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION glassdome_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM inserted) THEN
        PERFORM pg_notify('glassdome_changes', (SELECT 'event:' || min(id) || ':' || max(id) FROM inserted));
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`DROP TABLE change_feed_listeners`.execute(db);
}
