/**
 * One scan of a platform at a time, across every replica. The job scheduler already hands each
 * iteration to one worker, but a scan slower than its period would overlap the next iteration (and an
 * operator may enqueue a scan by hand); a Postgres session advisory lock settles both. It is held on a
 * pinned connection, so a replica that dies mid-scan releases it with its connection.
 */
import { type Db, withAdvisoryLock } from '@glassdome/db';

/** Runs `work` holding the platform's scan lock; undefined (without running it) when another holds it. */
export function withScanLock<T>(db: Db, platformId: string, work: () => Promise<T>): Promise<T | undefined> {
  return withAdvisoryLock(db, `overseer.scan:${platformId}`, work);
}
