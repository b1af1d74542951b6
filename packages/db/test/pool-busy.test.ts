/**
 * A caller that waited its whole connect timeout for a pooled connection is told which of the two it
 * was: every connection of the process lent out (PostgresPoolBusyError, naming the pool's size and
 * the callers waiting), or a Postgres that never answered a new connection (pg's own error). Both keep
 * pg's words, which the workers read as "wait and run again".
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { createDb } from '../src/index';

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase('pool_busy');
});
after(async () => {
  await database?.drop();
});

test('every connection lent out: the wait fails as PostgresPoolBusyError, naming the pool and the waiting', async () => {
  const db = createDb(database.url, { maxConnections: 1, connectTimeoutMs: 300 });
  try {
    const failure = await db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      return sql`select 2`.execute(db).then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    });
    assert.ok(failure, 'the second query could not get a connection');
    assert.equal(failure.name, 'PostgresPoolBusyError');
    assert.match(
      failure.message,
      /^all 1 Postgres connections of this process were in use \(0 more callers waiting\): timeout exceeded when trying to connect/,
    );
    assert.deepEqual((await sql<{ n: number }>`select 3 as n`.execute(db)).rows, [{ n: 3 }], 'usable once given back');
  } finally {
    await db.destroy();
  }
});

test('a server that never answers a new connection fails the wait with pg’s own error', async () => {
  const held = new Set<Socket>();
  const silent = createServer((socket) => held.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  const db = createDb(`postgres://nobody@127.0.0.1:${port}/none`, { maxConnections: 1, connectTimeoutMs: 300 });
  try {
    const failure = await sql`select 1`.execute(db).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    assert.ok(failure);
    assert.notEqual(failure.name, 'PostgresPoolBusyError');
    assert.match(failure.message, /timeout/);
  } finally {
    await db.destroy();
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});
