/**
 * openConnections fills a pool at start: the connections are open (Postgres has a backend for each)
 * and idle in the pool, so the queries that follow take them instead of connecting.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import pg from 'pg';
import { createDb, type Db, openConnections } from '../src/index';

let database: TestDatabase;
let db: Db;
let observer: pg.Client;
before(async () => {
  database = await createTestDatabase('open_connections');
  db = createDb(database.url, { maxConnections: 4 });
  observer = new pg.Client({ connectionString: database.url });
  await observer.connect();
});
after(async () => {
  await observer?.end();
  await db?.destroy();
  await database?.drop();
});

/** Backends connected to the test database, other than the observer's own. */
async function backends(): Promise<Set<number>> {
  const { rows } = await observer.query<{ pid: number }>(
    'select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
    [database.name],
  );
  return new Set(rows.map((row) => row.pid));
}

test('the pool holds the connections it was asked to open, and queries run on them', async () => {
  assert.equal((await backends()).size, 0, 'nothing connects before the first use');
  await openConnections(db, 4);
  const opened = await backends();
  assert.equal(opened.size, 4, 'one backend per connection asked for');
  const used = await Promise.all(
    Array.from({ length: 4 }, () =>
      db.connection().execute(async (conn) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.05)`.execute(conn);
        return rows[0]!.pid;
      }),
    ),
  );
  assert.deepEqual(new Set(used), opened, 'four queries at once ran on the connections opened, none new');
});

test('asked for more than the pool holds, it opens the pool full and no more', async () => {
  // A pool of two asked for 64 (a worker's concurrency): without the bound the holders past the second
  // would wait for a connection that never comes, and the call would fail after connectTimeoutMs.
  const small = createDb(database.url, { maxConnections: 2, connectTimeoutMs: 500 });
  try {
    const before = await backends();
    await openConnections(small, 64);
    const added = [...(await backends())].filter((pid) => !before.has(pid));
    assert.equal(added.length, 2, 'the pool of two is full');
  } finally {
    await small.destroy();
  }
});
