import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * `step_totals` takes one row per finished step instead of one counter row per (name, status).
 *
 * The counter rows were shared by every transaction that finished a step: each held the row's lock
 * until it committed, so at a class's peak hundreds of VMs queued on a handful of rows, and a
 * statement that finishes several steps at once (a VM's quiet steps recorded with the next one)
 * could take two of those locks in the opposite order to another: Postgres then kills one of them
 * as a deadlock after `deadlock_timeout`. In a 300-VM class at time scale 0.05 this happened in
 * 5 of 11 runs (13 to 52 deadlocks each, lock waits of up to 25 s, a provision's attempts spent).
 * A plain insert shares no row, so it neither waits nor deadlocks. Readers sum the rows by
 * (name, status); the retention pass folds them back to one per pair now and then
 * (`foldStepTotals`), so the table stays as small as the steps finished between two passes.
 */
export async function up(db: Db): Promise<void> {
  await sql`ALTER TABLE step_totals DROP CONSTRAINT step_totals_pk`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION glassdome_count_step() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL
         AND (OLD.finished_at IS NULL OR OLD.finished_at IS DISTINCT FROM NEW.finished_at) THEN
        INSERT INTO step_totals (name, status, count, seconds)
        VALUES (NEW.name, NEW.status, 1, extract(epoch FROM NEW.finished_at - NEW.started_at));
      END IF;
      RETURN NULL;
    END $$`.execute(db);
}

/** Folds the rows into one per (name, status) and puts the counters of migration 0005 back. */
export async function down(db: Db): Promise<void> {
  // Steps finishing between the fold and the key would add rows the key refuses.
  await sql`LOCK TABLE step_totals IN SHARE ROW EXCLUSIVE MODE`.execute(db);
  await sql`
    WITH gone AS (DELETE FROM step_totals RETURNING name, status, count, seconds)
    INSERT INTO step_totals (name, status, count, seconds)
    SELECT name, status, sum(count), sum(seconds) FROM gone GROUP BY name, status`.execute(db);
  await sql`ALTER TABLE step_totals ADD CONSTRAINT step_totals_pk PRIMARY KEY (name, status)`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION glassdome_count_step() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.finished_at IS NOT NULL AND NEW.started_at IS NOT NULL
         AND (OLD.finished_at IS NULL OR OLD.finished_at IS DISTINCT FROM NEW.finished_at) THEN
        INSERT INTO step_totals AS t (name, status, count, seconds)
        VALUES (NEW.name, NEW.status, 1, extract(epoch FROM NEW.finished_at - NEW.started_at))
        ON CONFLICT (name, status) DO UPDATE SET count = t.count + 1, seconds = t.seconds + excluded.seconds;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
}
