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
  insertVmSnapshots,
  insertVms,
  listVmSnapshots,
  migrateToLatest,
  recordVmSnapshotTaken,
  setLabOperationProgress,
  setVmSnapshotStatus,
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

/** An empty lab named `name`, for the operations below. */
function newLab(name: string) {
  return insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: {},
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
}

test('progress counted 1 then 2 but applied 2 then 1 stays at 2', async () => {
  const labId = await newLab('progress');
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

test("a VM's snapshot taken: its row ready, the progress never lowered, its event — one statement", async () => {
  const labId = await newLab('snapshot-taken');
  const [vmId] = await insertVms(db, [
    { labId, copy: 0, name: 'vm-a', os: 'ubuntu-22.04', platformId: 'default', node: 'pve', spec: {} },
  ]);
  const id = await insertLabOperation(db, { labId, kind: 'snapshot', target: { kind: 'lab' }, total: 3 });
  await insertVmSnapshots(db, [
    { vmId: vmId!, labId, copy: 0, name: 'initial', scope: 'lab', withRam: false, operationId: id },
  ]);
  await setVmSnapshotStatus(db, { vmId: vmId!, name: 'initial' }, { status: 'creating', error: 'an earlier try' });
  await setLabOperationProgress(db, id, 2);
  const event = { kind: 'vm.snapshot.taken', message: 'snapshot initial of vm-a taken' };
  await recordVmSnapshotTaken(db, { vmId: vmId!, labId, name: 'initial', operationId: id, done: 1, event });
  const [row] = await listVmSnapshots(db, labId, { name: 'initial' });
  assert.deepEqual([row?.status, row?.error], ['ready', null]);
  assert.equal((await getLabOperation(db, id))?.done, 2);
  await recordVmSnapshotTaken(db, { vmId: vmId!, labId, name: 'initial', operationId: id, done: 3, event });
  assert.equal((await getLabOperation(db, id))?.done, 3);
  const events = await db
    .selectFrom('events')
    .select(['lab_id', 'kind', 'message', 'project'])
    .where('vm_id', '=', vmId!)
    .orderBy('id')
    .execute();
  assert.deepEqual(events, [
    { lab_id: labId, ...event, project: 'default' },
    { lab_id: labId, ...event, project: 'default' },
  ]);
});
