/**
 * Two lab tasks that finish at the same moment (the two networks of a dual-homed VM): whatever the
 * interleaving, at least one of them learns that both are done, so their common dependent is added.
 * Here task B's update waits on a row lock while task A finishes entirely; before the fix, B's read
 * shared the snapshot its statement took before A committed, so neither saw the other done and the
 * dependent never ran.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { createDb, type Db, finishLabTaskStep, insertLab, migrateToLatest, startLabTasksIfRunning } from '../src/index';

let database: TestDatabase;
let db: Db;
let locker: Db;
before(async () => {
  database = await createTestDatabase('lab_task_steps');
  db = createDb(database.url);
  locker = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db?.destroy();
  await locker?.destroy();
  await database?.drop();
});

test('of two lab tasks finishing at once, at least one sees both done', async () => {
  const labId = await insertLab(db, {
    name: 'race',
    platformId: 'default',
    spec: {},
    graph: {},
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  await startLabTasksIfRunning(db, labId, ['c0:net:a'], []);
  await startLabTasksIfRunning(db, labId, ['c0:net:b'], []);

  let seenByB: string[] = [];
  let seenByA: string[] = [];
  await locker.connection().execute(async (connection) => {
    await sql`BEGIN`.execute(connection);
    await sql`SELECT 1 FROM steps WHERE lab_id = ${labId} AND name = 'c0:net:b' FOR UPDATE`.execute(connection);
    // B's update now waits on the lock; A finishes completely meanwhile.
    const finishingB = finishLabTaskStep(db, labId, 'c0:net:b', undefined).then((done) => {
      seenByB = done;
    });
    await sleep(200);
    seenByA = await finishLabTaskStep(db, labId, 'c0:net:a', undefined);
    assert.deepEqual(seenByA.sort(), ['c0:net:a'], 'A finished while B was still running');
    await sql`COMMIT`.execute(connection);
    await finishingB;
  });
  assert.deepEqual(seenByB.sort(), ['c0:net:a', 'c0:net:b'], 'B, finishing last, sees A done');
});

test('a lab task starts only while its lab runs, and learns the lab as it is', async () => {
  const labId = await insertLab(db, {
    name: 'start',
    platformId: 'default',
    spec: {},
    graph: {},
    onFailure: 'keep',
    copies: 1,
    expiresAt: null,
  });
  const running = await startLabTasksIfRunning(db, labId, ['c0:net:a'], ['cancelled']);
  assert.equal(running?.id, labId);
  assert.equal(running?.on_failure, 'keep');
  assert.equal(running?.run, 0);
  await startLabTasksIfRunning(db, labId, ['c0:net:a'], ['cancelled']);
  await sql`UPDATE labs SET status = 'cancelled' WHERE id = ${labId}`.execute(db);
  const stopped = await startLabTasksIfRunning(db, labId, ['c0:net:b'], ['cancelled']);
  assert.equal(stopped?.status, 'cancelled');
  const steps = await db
    .selectFrom('steps')
    .select(['name', 'status', 'attempts'])
    .where('lab_id', '=', labId)
    .execute();
  assert.deepEqual(steps, [{ name: 'c0:net:a', status: 'running', attempts: 2 }], 'b was not started');
  await sql`UPDATE labs SET status = 'deploying' WHERE id = ${labId}`.execute(db);
  // Tasks starting at once start in one statement, each once (a name given twice counts once).
  await startLabTasksIfRunning(db, labId, ['c0:net:b', 'c0:net:a', 'c0:net:b'], ['cancelled']);
  const both = await db
    .selectFrom('steps')
    .select(['name', 'status', 'attempts'])
    .where('lab_id', '=', labId)
    .orderBy('name')
    .execute();
  assert.deepEqual(both, [
    { name: 'c0:net:a', status: 'running', attempts: 3 },
    { name: 'c0:net:b', status: 'running', attempts: 1 },
  ]);
  assert.equal(await startLabTasksIfRunning(db, '00000000-0000-0000-0000-000000000000', ['x'], []), undefined);
});
