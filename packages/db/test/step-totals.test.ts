/**
 * Finished-step totals (migration 0018): each finished step adds a row of its own, so transactions
 * finishing steps of the same names never wait on each other (nor deadlock, taking them in opposite
 * orders); the metrics read sums the rows, and the fold leaves one row per (name, status) with the
 * same sums.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import { createDb, type Db, foldStepTotals, migrateToLatest, stepDurationTotals } from '../src/index';
import { queueVm } from './fixtures';

let database: TestDatabase;
let db: Db;

before(async () => {
  database = await createTestDatabase('step-totals');
  db = createDb(database.url);
  await migrateToLatest(db);
});
after(async () => {
  await db?.destroy();
  await database?.drop();
});

/** A queued VM with the steps named, started 2 s ago and not finished. */
async function vmWithSteps(names: string[]): Promise<string> {
  const id = await queueVm(db, names);
  await db
    .insertInto('steps')
    .values(
      names.map((name) => ({
        vm_id: id,
        name,
        status: 'running',
        started_at: sql<Date>`now() - interval '2 seconds'`,
      })),
    )
    .execute();
  return id;
}

const totals = async () =>
  Object.fromEntries(
    (await stepDurationTotals(db)).map((row) => [
      `${row.name}/${row.status}`,
      [Number(row.count), Number(row.seconds)],
    ]),
  );

test('two transactions finishing the same steps in opposite orders neither wait nor deadlock; the sums hold', async () => {
  const first = await vmWithSteps(['clone', 'start']);
  const second = await vmWithSteps(['clone', 'start']);
  const finish = (trx: Db, vm: string, name: string) =>
    trx
      .updateTable('steps')
      .set({ status: 'done', finished_at: sql<Date>`started_at + interval '1.5 seconds'` })
      .where('vm_id', '=', vm)
      .where('name', '=', name)
      .execute();
  const one = await db.connection().execute(async (a) => {
    await sql`BEGIN`.execute(a);
    await finish(a, first, 'clone');
    // The other transaction, still open beside this one, must not wait for a row it holds.
    await db.connection().execute(async (b) => {
      await sql`BEGIN`.execute(b);
      await sql`SET LOCAL lock_timeout = '500ms'`.execute(b);
      await finish(b, second, 'start');
      await finish(b, second, 'clone');
      await sql`COMMIT`.execute(b);
    });
    await finish(a, first, 'start');
    await sql`COMMIT`.execute(a);
    return 'both committed';
  });
  assert.equal(one, 'both committed');
  assert.deepEqual(await totals(), { 'clone/done': [2, 3], 'start/done': [2, 3] });
});

test('the fold leaves one row per step and outcome with the same sums', async () => {
  const before = await totals();
  const rows = await db.selectFrom('step_totals').select('name').execute();
  assert.ok(rows.length > 2, `${rows.length} rows before the fold`);
  assert.equal(await foldStepTotals(db), rows.length - 2);
  assert.equal((await db.selectFrom('step_totals').select('name').execute()).length, 2);
  assert.deepEqual(await totals(), before);
  assert.equal(await foldStepTotals(db), 0, 'nothing left to fold');
});
