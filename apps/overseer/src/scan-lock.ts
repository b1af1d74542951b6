/**
 * One scan of a platform at a time, across every replica. The job scheduler already hands each
 * iteration to one worker, but a scan slower than its period would overlap the next iteration (and an
 * operator may enqueue a scan by hand); a Postgres session advisory lock settles both. It is held on a
 * pinned connection, so a replica that dies mid-scan releases it with its connection.
 */
import type { Db } from '@glassdome/db';
import { sql } from 'kysely';

/** Runs `work` holding the platform's scan lock; undefined (without running it) when another holds it. */
export async function withScanLock<T>(db: Db, platformId: string, work: () => Promise<T>): Promise<T | undefined> {
  const key = `overseer.scan:${platformId}`;
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
