import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * A step as the API shows it, written once when the step is written instead of at every read.
 *
 * `glassdome_shown_step` is the JSON text of one step as the API presents it: its name, status,
 * attempts and times (UTC, milliseconds, as a JS Date prints them), once started and finished how
 * long it took between the times shown (`durationMs`), and its error if it has one. `steps.shown`
 * keeps that text for each row (a stored generated column: Postgres recomputes it on every insert
 * and update of the row, so it is never stale), and a read of VMs and labs only joins the texts of
 * their steps. A page of 50 VMs carries some 450 steps: building their texts at each read was about
 * half of the Postgres time of `GET /vms` (bench/lists.bench.ts). Steps only planned (a VM's
 * `planned_steps` before the installer takes it) have no row: readers call the function on them.
 *
 * The function is declared IMMUTABLE (a generated column needs it) although to_char, to_json and
 * date_trunc on timestamptz are only STABLE: what makes them so (the time zone, the date style) does
 * not reach this use, every time being read at UTC in a fixed pattern and truncated to milliseconds.
 * PL/pgSQL, because a SQL function so declared would not be inlined and would cost more per call.
 * The column is never null (every part of the text is), but is not declared NOT NULL: the schema's
 * types (typegen) would then ask every insert of a step for it.
 */
export async function up(db: Db): Promise<void> {
  await sql`
    CREATE FUNCTION glassdome_shown_step(
      p_name text, p_status text, p_attempts integer, p_queued_at timestamptz,
      p_started_at timestamptz, p_finished_at timestamptz, p_error text
    ) RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    BEGIN
      RETURN '{"name":' || to_json(p_name)::text || ',"status":' || to_json(p_status)::text
        || ',"attempts":' || p_attempts
        || ',"queuedAt":' || coalesce('"' || to_char(p_queued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"', 'null')
        || ',"startedAt":' || coalesce('"' || to_char(p_started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"', 'null')
        || ',"finishedAt":' || coalesce('"' || to_char(p_finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"', 'null')
        || CASE WHEN p_started_at IS NOT NULL AND p_finished_at IS NOT NULL
           THEN ',"durationMs":' || (extract(epoch FROM date_trunc('milliseconds', p_finished_at)) * 1000
             - extract(epoch FROM date_trunc('milliseconds', p_started_at)) * 1000)::bigint
           ELSE '' END
        || CASE WHEN p_error <> '' THEN ',"error":' || to_json(p_error)::text ELSE '' END
        || '}';
    END $$`.execute(db);
  await sql`
    ALTER TABLE steps ADD COLUMN shown text GENERATED ALWAYS AS
      (glassdome_shown_step(name, status, attempts, queued_at, started_at, finished_at, error)) STORED`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`ALTER TABLE steps DROP COLUMN shown`.execute(db);
  await sql`DROP FUNCTION glassdome_shown_step(text, text, integer, timestamptz, timestamptz, timestamptz, text)`.execute(
    db,
  );
}
