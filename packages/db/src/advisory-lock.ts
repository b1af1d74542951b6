import { sql } from 'kysely';
import type { Db } from './connection';

/**
 * Runs `work` holding the Postgres session advisory lock named `key`, or returns undefined without
 * running it when another session holds it. The lock lives on one pinned connection, so a process
 * that dies while holding it releases it with its connection.
 */
export async function withAdvisoryLock<T>(db: Db, key: string, work: () => Promise<T>): Promise<T | undefined> {
  return db.connection().execute(async (connection) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(hashtext(${key})) as locked`.execute(
      connection,
    );
    if (!rows[0]?.locked) return undefined;
    try {
      return await work();
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${key}))`.execute(connection);
    }
  });
}
