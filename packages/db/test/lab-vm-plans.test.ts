/**
 * A lab deploy's VMs keep their plan on their rows (`insertLabVms`) and get their step rows after
 * the commit (`planLabVmSteps`), or from their provision task (`planVmSteps`) if that never ran:
 * readers show the same steps before and after, and a VM's rows are written once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '@glassdome/testkit';
import { sql } from 'kysely';
import {
  createDb,
  type Db,
  insertLab,
  insertLabVms,
  listSteps,
  migrateToLatest,
  planLabVmSteps,
  planVmSteps,
} from '../src/index';
import { shownStepsOfVm } from '../src/repositories/steps';

let database: TestDatabase;
let db: Db;
const PLAN = ['reserve-vmid', 'clone', 'configure'];

before(async () => {
  database = await createTestDatabase('lab-vm-plans');
  db = createDb(database.url);
  await migrateToLatest(db);
});

after(async () => {
  await db?.destroy();
  await database?.drop();
});

async function labWithVms(name: string, count: number): Promise<{ labId: string; vmIds: string[] }> {
  const labId = await insertLab(db, {
    name,
    platformId: 'p',
    spec: {},
    graph: {},
    onFailure: 'fail',
    copies: 2,
    expiresAt: null,
  });
  const vms = Array.from({ length: count }, (_, i) => ({
    labId,
    copy: i % 2,
    name: `vm-${Math.floor(i / 2)}`,
    os: 'ubuntu-22.04',
    platformId: 'p',
    node: 'pve',
    spec: { cpus: 1, note: `it's "quoted" \\ ${i}` },
  }));
  await insertLabVms(db, vms, PLAN);
  const rows = await db
    .selectFrom('vms')
    .select(['id', 'status', 'planned_steps', 'spec', 'project'])
    .where('lab_id', '=', labId)
    .orderBy('copy')
    .orderBy('name')
    .execute();
  assert.equal(rows.length, count);
  for (const row of rows) {
    assert.equal(row.status, 'queued');
    assert.deepEqual(row.planned_steps, PLAN);
    assert.equal(row.project, 'default');
    assert.match(JSON.stringify(row.spec), /it's \\"quoted\\" \\\\ \d/);
  }
  return { labId, vmIds: rows.map((row) => row.id) };
}

const stepRows = async (labId: string) =>
  Number(
    (
      await sql<{ n: string }>`SELECT count(*) AS n FROM steps WHERE lab_id = ${labId} AND vm_id IS NOT NULL`.execute(
        db,
      )
    ).rows[0]!.n,
  );

test('the plan on the VM rows reads as the step rows planLabVmSteps writes', async () => {
  const { labId, vmIds } = await labWithVms('plans-a', 6);
  assert.equal(await stepRows(labId), 0);
  const stepsOfEveryVm = () => Promise.all(vmIds.map((vmId) => listSteps(db, { vmId })));
  // The JSON text the API's lists and details carry for each VM.
  const shown = async () =>
    (
      await sql<{ steps: string }>`SELECT ${sql.raw(shownStepsOfVm('lv.id'))} AS steps FROM vms lv
        WHERE lv.lab_id = ${labId} ORDER BY lv.copy, lv.name`.execute(db)
    ).rows.map((row) => row.steps);
  const shownBefore = await shown();
  assert.equal(JSON.parse(shownBefore[0]!).length, PLAN.length);
  const before = await stepsOfEveryVm();
  const stepsBefore = before[0]!;
  assert.deepEqual(
    stepsBefore.map((s) => [s.name, s.status, s.id]),
    PLAN.map((name) => [name, 'pending', null]),
  );
  await planLabVmSteps(db, labId);
  assert.equal(await stepRows(labId), 6 * PLAN.length);
  const withoutIds = (vms: Awaited<ReturnType<typeof stepsOfEveryVm>>) =>
    vms.map((steps) => steps.map(({ id: _id, ...step }) => step));
  assert.deepEqual(withoutIds(await stepsOfEveryVm()), withoutIds(before), 'every VM reads the same steps');
  assert.deepEqual(await shown(), shownBefore, 'and shows the same text');
  const stepsAfter = await listSteps(db, { vmId: vmIds[0]! });
  assert.deepEqual(
    stepsAfter.map(({ id: _id, ...step }) => step),
    stepsBefore.map(({ id: _id, ...step }) => step),
  );
  assert.ok(stepsAfter.every((s) => s.id !== null && s.lab_id === labId));
  // Again: nothing more.
  await planLabVmSteps(db, labId);
  assert.equal(await stepRows(labId), 6 * PLAN.length);
});

test('a VM whose provision task wrote its rows first keeps them; the others get theirs', async () => {
  const { labId, vmIds } = await labWithVms('plans-b', 4);
  const recorded = await planVmSteps(db, vmIds[1]!);
  assert.deepEqual(
    recorded.map((s) => [s.name, s.status]),
    PLAN.map((name) => [name, 'pending']),
  );
  await db
    .updateTable('steps')
    .set({ status: 'done' })
    .where('vm_id', '=', vmIds[1]!)
    .where('name', '=', 'reserve-vmid')
    .execute();
  await planLabVmSteps(db, labId);
  assert.equal(await stepRows(labId), 4 * PLAN.length);
  const kept = await listSteps(db, { vmId: vmIds[1]! });
  assert.deepEqual(
    kept.map((s) => [s.name, s.status]),
    [
      ['reserve-vmid', 'done'],
      ['clone', 'pending'],
      ['configure', 'pending'],
    ],
  );
  // The installer's read after the API wrote them: the rows as they are, none added.
  assert.deepEqual(
    (await planVmSteps(db, vmIds[2]!)).map((s) => s.name),
    PLAN,
  );
  assert.equal(await stepRows(labId), 4 * PLAN.length);
});

test('another lab is left alone', async () => {
  const a = await labWithVms('plans-c', 2);
  const b = await labWithVms('plans-d', 2);
  await planLabVmSteps(db, a.labId);
  assert.equal(await stepRows(a.labId), 2 * PLAN.length);
  assert.equal(await stepRows(b.labId), 0);
});
