import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { createDb, type Db } from '../src/index';

let database: TestDatabase;
let db: Db;
let admin: Db;
before(async () => {
  database = await createTestDatabase('connection_loss');
  db = createDb(database.url);
  admin = createDb(database.url);
});
after(async () => {
  await db?.destroy();
  await admin?.destroy();
  await database?.drop();
});

test('a server that ends a connection the process holds (a restart) is an error of that work, not a crash', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    const held = db.connection().execute(async (connection) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(connection);
      // Between two queries of a held connection (a transaction, an advisory lock), as Postgres goes down.
      await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(admin);
      await sleep(300);
      await sql`select 1`.execute(connection);
    });
    await assert.rejects(held);
    assert.deepEqual(uncaught, [], 'no unhandled error event');
    // The pool goes on with a fresh connection.
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
    assert.equal(rows[0]?.one, 1);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});
