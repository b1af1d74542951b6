/**
 * An operation's progress when VMs finish at once: each reports its count (1, 2, …) from its own
 * connection, and Postgres may apply the updates in another order than they were counted. The larger
 * count must stay (a claim that put keys on two guests reported "1 VM" in the pool bench).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import {
  createDb,
  type Db,
  getLabOperation,
  insertLab,
  insertLabOperation,
  migrateToLatest,
  setLabOperationProgress,
} from '../src/index';

let database: TestDatabase;
let db: Db;
let locker: Db;
before(async () => {
  database = await createTestDatabase('lab_op_progress');
  db = createDb(database.url);
  locker = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db?.destroy();
  await locker?.destroy();
  await database?.drop();
});

test('progress counted 1 then 2 but applied 2 then 1 stays at 2', async () => {
  const labId = await insertLab(db, {
    name: 'progress',
    platformId: 'default',
    spec: {},
    graph: {},
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  const id = await insertLabOperation(db, { labId, kind: 'claim', target: { kind: 'lab' }, total: 2 });
  // The first VM's update waits on the row while the second VM's lands first.
  let first: Promise<void> | undefined;
  await locker.transaction().execute(async (trx) => {
    await sql`SELECT 1 FROM lab_operations WHERE id = ${id} FOR UPDATE`.execute(trx);
    first = setLabOperationProgress(db, id, 1);
    await sleep(200);
    await setLabOperationProgress(trx, id, 2);
  });
  await first;
  assert.equal((await getLabOperation(db, id))?.done, 2);
  await setLabOperationProgress(db, id, 2, 3);
  assert.deepEqual(await getLabOperation(db, id).then((row) => [row?.done, row?.total]), [2, 3]);
});
