import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was then
type Db = Kysely<any>;

/**
 * A lab task's end in one round trip: `glassdome_finish_lab_task` records the task's step done and
 * returns the names of the lab's tasks done now, this one included. The finishers of one lab take
 * the lab's row lock first (FOR NO KEY UPDATE: inserts that only reference the lab, such as events,
 * are not held up), one after the other; the read of the done tasks is the function's own statement,
 * so it takes its snapshot after the lock was granted, when every finisher before it has committed.
 * Of two tasks finishing at once the second therefore sees both done and adds their common
 * dependent. In a single plain statement the read would share the snapshot taken before the lock
 * wait, and neither might see the other (which is why this used to be two round trips: the update,
 * then the read once it had committed).
 */
export async function up(db: Db): Promise<void> {
  await sql`
    CREATE FUNCTION glassdome_finish_lab_task(p_lab uuid, p_task text, p_detail jsonb) RETURNS text[]
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
      PERFORM 1 FROM labs WHERE id = p_lab FOR NO KEY UPDATE;
      UPDATE steps SET status = 'done', finished_at = now(), error = NULL, detail = coalesce(p_detail, detail)
      WHERE vm_id IS NULL AND lab_id = p_lab AND name = p_task;
      RETURN ARRAY(SELECT name FROM steps WHERE vm_id IS NULL AND lab_id = p_lab AND status = 'done' ORDER BY id);
    END $$`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`DROP FUNCTION glassdome_finish_lab_task(uuid, text, jsonb)`.execute(db);
}
