import { sql } from 'kysely';
import type { Db } from '../connection';
import type { JsonValue } from '../schema';

/**
 * Records an intent to enqueue, in the caller's transaction. `intent` may be built from the row's own
 * id (unique and ever increasing), which makes a fresh job id for every request of the same kind
 * (e.g. `vm-destroy.<vm>.<n>`), so a request after a final failure is a new job, not a duplicate.
 */
export async function insertOutboxIntent(db: Db, intent: JsonValue | ((id: number) => JsonValue)): Promise<number> {
  if (typeof intent !== 'function') {
    const row = await db
      .insertInto('outbox')
      .values({ intent: JSON.stringify(intent) })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }
  const { id } = await sql<{ id: string }>`SELECT nextval(pg_get_serial_sequence('outbox', 'id')) AS id`
    .execute(db)
    .then((result) => result.rows[0]!);
  await db
    .insertInto('outbox')
    .values({ id: Number(id), intent: JSON.stringify(intent(Number(id))) })
    .execute();
  return Number(id);
}

export interface OutboxRow {
  id: number;
  intent: JsonValue;
  attempts: number;
}

/**
 * Hands up to `limit` unsent intents, oldest first, to `send` inside one transaction that holds
 * their rows (other relays skip them); the rows are deleted when `send` resolves and kept, with the
 * error and one more attempt counted, when it throws. Returns how many were sent.
 */
export async function relayOutboxBatch(
  db: Db,
  limit: number,
  send: (rows: OutboxRow[]) => Promise<void>,
): Promise<number> {
  let failure: unknown;
  const sent = await db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('outbox')
      .select(['id', 'intent', 'attempts'])
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (rows.length === 0) return 0;
    const ids = rows.map((row) => row.id);
    try {
      await send(rows.map((row) => ({ id: Number(row.id), intent: row.intent, attempts: row.attempts })));
    } catch (error) {
      failure = error;
      await trx
        .updateTable('outbox')
        .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: String(error).slice(0, 500) }))
        .where('id', 'in', ids)
        .execute();
      return 0;
    }
    await trx.deleteFrom('outbox').where('id', 'in', ids).execute();
    return rows.length;
  });
  if (failure) throw failure;
  return sent;
}

/** Deletes intents sent by whoever wrote them (see OutboxRelay.sendCommitted); gone ones are skipped. */
export async function deleteOutboxIntents(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .deleteFrom('outbox')
    .where('id', 'in', [...ids])
    .execute();
}

/** Whether any intent waits to be relayed: one plain read, no lock (the relay's idle check). */
export async function outboxHasIntents(db: Db): Promise<boolean> {
  return (await db.selectFrom('outbox').select('id').limit(1).executeTakeFirst()) !== undefined;
}

/** Intents not yet relayed, and the age of the oldest in seconds (for health and metrics). */
export async function outboxBacklog(db: Db): Promise<{ count: number; oldestSeconds: number }> {
  const row = await db
    .selectFrom('outbox')
    .select([
      (eb) => eb.fn.countAll<string>().as('count'),
      sql<string | null>`extract(epoch from now() - min(created_at))`.as('oldest'),
    ])
    .executeTakeFirstOrThrow();
  return { count: Number(row.count), oldestSeconds: Math.round(Number(row.oldest ?? 0)) };
}

/**
 * The unsent intent of the plain job `jobId`, if the outbox holds one, and when it was written.
 * Looked up only when the job is not in BullMQ (a deploy answered at its commit, its intent not yet
 * relayed): the outbox holds a relay's backlog, a few rows while Redis answers, so no index.
 */
export async function findOutboxJobIntent(
  db: Db,
  jobId: string,
): Promise<{ intent: JsonValue; createdAt: Date } | undefined> {
  const row = await db
    .selectFrom('outbox')
    .select(['intent', 'created_at'])
    .where(sql<boolean>`intent->>'kind' = 'job' AND intent->>'jobId' = ${jobId}`)
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return row && { intent: row.intent, createdAt: row.created_at };
}
