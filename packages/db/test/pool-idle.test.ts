/**
 * createDb's pool keeps an idle connection for minutes, not pg's 10 s: a deploy after a quiet spell
 * (the lab bench's next lab, after the last one's destroy) finds its connections open.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { createDb, type Db } from '../src/index';

let database: TestDatabase;
let db: Db;
before(async () => {
  database = await createTestDatabase('pool_idle');
  db = createDb(database.url);
});
after(async () => {
  await db?.destroy();
  await database?.drop();
});

const backend = async () => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid;

test('a connection idle for longer than pg’s default 10 s is still the one the next query takes', async () => {
  const first = await backend();
  await sleep(10_600);
  assert.equal(await backend(), first, 'the same backend: no new connection');
});
