/**
 * Two lab tasks that finish at the same moment (the two networks of a dual-homed VM, two VMs a third
 * depends on): whatever the interleaving, at least one of them learns that both are done, so their
 * common dependent is added. Here task B's end begins while task A's finisher holds the lab (its row
 * lock) and commits A done only afterwards: B's read must see A done. A read sharing the snapshot
 * B's statement took before it waited sees A unfinished — then, if A's read ran before B's update,
 * neither saw the other done and the dependent never ran.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase, waitFor } from '@glassdome/testkit';
import { sql } from 'kysely';
import {
  createDb,
  type Db,
  finishLabTaskStep,
  insertLab,
  insertVms,
  listSteps,
  migrateToLatest,
  planSteps,
  recordLabStepDone,
  recordVmSteps,
  startLabTasksIfRunning,
} from '../src/index';

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

async function labWithTasks(name: string, tasks: string[]) {
  const labId = await insertLab(db, {
    name,
    platformId: 'default',
    spec: {},
    graph: {},
    onFailure: 'fail',
    copies: 1,
    expiresAt: null,
  });
  for (const task of tasks) await startLabTasksIfRunning(db, labId, [task], []);
  return labId;
}

/**
 * Runs `finishB` while another session holds the lab as a finisher of task A does (or as a cancel
 * does, which then moves the lab's VMs: `alsoLockVm`), records A done in that session once B's end
 * waits for it, commits, and returns what B's end saw done.
 */
async function finishedAfterA(labId: string, finishB: () => Promise<string[]>, alsoLockVm?: string): Promise<string[]> {
  return locker.connection().execute(async (connection) => {
    await sql`BEGIN`.execute(connection);
    await sql`SELECT 1 FROM labs WHERE id = ${labId} FOR NO KEY UPDATE`.execute(connection);
    const finishing = finishB();
    await waitFor(
      "B's end waiting for the lab",
      async () => {
        const { rows } = await sql<{ waiting: number }>`
          SELECT count(*)::int AS waiting FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db);
        return rows[0]!.waiting > 0 ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    // B's end has not touched its VM yet: this would wait for B, which waits for us (a deadlock).
    if (alsoLockVm) await sql`UPDATE vms SET updated_at = now() WHERE id = ${alsoLockVm}`.execute(connection);
    await sql`UPDATE steps SET status = 'done' WHERE vm_id IS NULL AND lab_id = ${labId} AND name = 'c0:net:a'`.execute(
      connection,
    );
    await sql`COMMIT`.execute(connection);
    return finishing;
  });
}

test('of two lab tasks finishing at once, the later sees both done', async () => {
  const labId = await labWithTasks('race', ['c0:net:a', 'c0:net:b']);
  const seenByB = await finishedAfterA(labId, () => finishLabTaskStep(db, labId, 'c0:net:b', { bridge: 'vnet1' }));
  assert.deepEqual([...seenByB].sort(), ['c0:net:a', 'c0:net:b']);
  const b = await db
    .selectFrom('steps')
    .select(['status', 'detail', 'finished_at'])
    .where('lab_id', '=', labId)
    .where('name', '=', 'c0:net:b')
    .executeTakeFirstOrThrow();
  assert.equal(b.status, 'done');
  assert.deepEqual(b.detail, { bridge: 'vnet1' });
  assert.ok(b.finished_at);
});

test("a VM task's last step records its lab task done and sees the lab's other tasks as they are then", async () => {
  const labId = await labWithTasks('race-vm', ['c0:net:a', 'c0:vm:x:configure']);
  const [vmId] = await insertVms(db, [
    { labId, copy: 0, name: 'x', os: 'ubuntu-22.04', platformId: 'default', node: 'pve', spec: {} },
  ]);
  await planSteps(db, { vmId: vmId!, labId }, ['verify']);
  const owner = { vmId: vmId!, labId };
  await recordVmSteps(db, owner, { move: { from: ['queued'], to: 'deploying' } });
  const seen = await finishedAfterA(
    labId,
    async () => {
      const recorded = await recordVmSteps(db, owner, {
        end: { name: 'verify', outcome: { status: 'done' }, event: { kind: 'vm.step.done', message: 'verify done' } },
        move: { from: ['deploying'], to: 'ready' },
        moved: [{ kind: 'vm.ready', message: 'x ready' }],
        labTaskDone: 'c0:vm:x:configure',
      });
      assert.equal(recorded.moved, true);
      return recorded.labTasksDone ?? [];
    },
    vmId,
  );
  assert.deepEqual([...seen].sort(), ['c0:net:a', 'c0:vm:x:configure']);
  // A step record that ends no lab task tells none.
  assert.deepEqual(await recordVmSteps(db, owner, { move: { from: ['ready'], to: 'ready' } }), { moved: true });
});

test('a finish told which tasks it asks about returns only those of them done, in order (the race still seen)', async () => {
  const labId = await labWithTasks('asked', ['c0:net:a', 'c0:net:b', 'c0:net:c', 'c0:vm:x:configure']);
  await finishLabTaskStep(db, labId, 'c0:net:c', undefined);
  const seenByB = await finishedAfterA(labId, () =>
    finishLabTaskStep(db, labId, 'c0:net:b', undefined, ['c0:net:a', 'c0:net:b', 'c0:vm:y:provision']),
  );
  assert.deepEqual(seenByB, ['c0:net:a', 'c0:net:b'], 'c, done but not asked about, is left out');
  const [vmId] = await insertVms(db, [
    { labId, copy: 0, name: 'x', os: 'ubuntu-22.04', platformId: 'default', node: 'pve', spec: {} },
  ]);
  await planSteps(db, { vmId: vmId!, labId }, ['verify']);
  const recorded = await recordVmSteps(
    db,
    { vmId: vmId!, labId },
    {
      end: { name: 'verify', outcome: { status: 'done' }, event: { kind: 'vm.step.done', message: 'verify done' } },
      labTaskDone: 'c0:vm:x:configure',
      labTasksAsked: ['c0:vm:x:configure', 'c0:net:c'],
    },
  );
  assert.deepEqual(recorded.labTasksDone, ['c0:net:c', 'c0:vm:x:configure'], 'in the order they were started');
  assert.deepEqual(await finishLabTaskStep(db, labId, 'c0:net:a', undefined, []), [], 'asked about none');
  assert.deepEqual(
    await finishLabTaskStep(db, labId, 'c0:net:a', undefined),
    ['c0:net:a', 'c0:net:b', 'c0:net:c', 'c0:vm:x:configure'],
    'every one when not told',
  );
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
  const { lab: running } = await startLabTasksIfRunning(db, labId, ['c0:net:a'], ['cancelled']);
  assert.equal(running?.id, labId);
  assert.equal(running?.on_failure, 'keep');
  assert.equal(running?.run, 0);
  await startLabTasksIfRunning(db, labId, ['c0:net:a'], ['cancelled']);
  await sql`UPDATE labs SET status = 'cancelled' WHERE id = ${labId}`.execute(db);
  const { lab: stopped } = await startLabTasksIfRunning(db, labId, ['c0:net:b'], ['cancelled']);
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
  assert.deepEqual(await startLabTasksIfRunning(db, '00000000-0000-0000-0000-000000000000', ['x'], []), {
    lab: undefined,
    vms: [],
  });
});

test("a VM task's start reads its VM with its steps, also when its lab stopped and its step is not started", async () => {
  const labId = await labWithTasks('start-vms', []);
  const [a, b] = await insertVms(
    db,
    ['vm-a', 'vm-b'].map((name) => ({
      labId,
      copy: 0,
      name,
      os: 'ubuntu-22.04',
      platformId: 'default',
      node: 'pve',
      spec: {},
    })),
  );
  await planSteps(db, { vmId: a!, labId }, ['reserve-vmid', 'clone']);
  await recordVmSteps(
    db,
    { vmId: a!, labId },
    {
      start: { name: 'reserve-vmid', event: { kind: 'vm.step.started', message: 'reserve-vmid started' } },
    },
  );
  const started = await startLabTasksIfRunning(
    db,
    labId,
    ['c0:vm:vm-a:provision', 'c0:vm:vm-b:provision', 'c0:vm:vm-c:provision'],
    ['cancelled'],
    [
      { copy: 0, name: 'vm-a' },
      { copy: 0, name: 'vm-b' },
      { copy: 0, name: 'vm-c' },
    ],
  );
  assert.equal(started.lab?.id, labId);
  assert.deepEqual(
    started.vms.map((vm) => [vm.id, vm.steps.map((step) => `${step.name}:${step.status}`)]).sort(),
    [
      [a, ['reserve-vmid:running', 'clone:pending']],
      [b, []],
    ].sort(),
    'a VM the lab does not have is left out',
  );
  await sql`UPDATE labs SET status = 'cancelled' WHERE id = ${labId}`.execute(db);
  const stopped = await startLabTasksIfRunning(
    db,
    labId,
    ['c0:vm:vm-b:configure'],
    ['cancelled'],
    [{ copy: 0, name: 'vm-b' }],
  );
  assert.equal(stopped.lab?.status, 'cancelled');
  assert.deepEqual(
    stopped.vms.map((vm) => vm.id),
    [b],
  );
  assert.deepEqual(
    (await listSteps(db, { labId })).map((step) => step.name).sort(),
    ['c0:vm:vm-a:provision', 'c0:vm:vm-b:provision', 'c0:vm:vm-c:provision'],
    "the stopped lab's task was not started",
  );
});

test("a lab's own step recorded done in one statement: planned and started if it was not, counted each time", async () => {
  const labId = await labWithTasks('lab-step-done', []);
  const shown = async () =>
    (await listSteps(db, { labId })).map((s) => [
      s.name,
      s.status,
      s.attempts,
      s.error,
      s.detail,
      !!s.started_at,
      !!s.finished_at,
    ]);
  await recordLabStepDone(db, labId, 'placement', { kept: 'one node' });
  assert.deepEqual(await shown(), [['placement', 'done', 1, null, { kept: 'one node' }, true, true]]);
  await db.updateTable('steps').set({ status: 'failed', error: 'x' }).where('lab_id', '=', labId).execute();
  await recordLabStepDone(db, labId, 'placement', { copies: { '0': 'pve2' } });
  assert.deepEqual(await shown(), [['placement', 'done', 2, null, { copies: { '0': 'pve2' } }, true, true]]);
});

test("a task's start also starts its VM's first step not done, when the VM is in the status named, with its event", async () => {
  const labId = await labWithTasks('first-step-start', []);
  const [a, b, c] = await insertVms(
    db,
    ['vm-a', 'vm-b', 'vm-c'].map((name) => ({
      labId,
      copy: 0,
      name,
      os: 'ubuntu-22.04',
      platformId: 'default',
      node: 'pve',
      spec: {},
    })),
  );
  for (const vm of [a!, b!, c!]) await planSteps(db, { vmId: vm, labId }, ['wait-ssh', 'post-configure', 'verify']);
  await sql`UPDATE vms SET status = 'deploying' WHERE id IN (${a!}, ${b!})`.execute(db);
  // vm-a's post-configure is done already: its task resumes at verify.
  await sql`UPDATE steps SET status = 'done', attempts = 1 WHERE vm_id = ${a!} AND name IN ('wait-ssh', 'post-configure')`.execute(
    db,
  );
  await sql`UPDATE steps SET status = 'done', attempts = 1 WHERE vm_id IN (${b!}, ${c!}) AND name = 'wait-ssh'`.execute(
    db,
  );
  const configure = ['post-configure', 'verify'];
  const started = await startLabTasksIfRunning(
    db,
    labId,
    ['c0:vm:vm-a:configure', 'c0:vm:vm-b:configure', 'c0:vm:vm-c:configure'],
    ['cancelled'],
    [
      { copy: 0, name: 'vm-a', startFirstOf: configure },
      { copy: 0, name: 'vm-b', startFirstOf: configure },
      // Still queued: its first start moves it, which the caller records.
      { copy: 0, name: 'vm-c', startFirstOf: configure },
    ],
    'deploying',
  );
  const byId = new Map(started.vms.map((vm) => [vm.id, vm]));
  assert.equal(byId.get(a!)?.started_step, 'verify');
  assert.equal(byId.get(b!)?.started_step, 'post-configure');
  assert.equal(byId.get(c!)?.started_step, null, 'a VM in another status: no step started');
  assert.deepEqual(
    byId.get(b!)?.steps.map((s) => `${s.name}:${s.status}:${s.attempts}`),
    ['wait-ssh:done:1', 'post-configure:pending:0', 'verify:pending:0'],
    'the steps as they were before the start (its attempts as runSteps passes them on)',
  );
  const steps = async (vm: string) =>
    (await listSteps(db, { vmId: vm, labId })).map((s) => `${s.name}:${s.status}:${s.attempts}`);
  assert.deepEqual(await steps(a!), ['wait-ssh:done:1', 'post-configure:done:1', 'verify:running:1']);
  assert.deepEqual(await steps(b!), ['wait-ssh:done:1', 'post-configure:running:1', 'verify:pending:0']);
  assert.deepEqual(await steps(c!), ['wait-ssh:done:1', 'post-configure:pending:0', 'verify:pending:0']);
  const events = await db
    .selectFrom('events')
    .select(['vm_id', 'lab_id', 'kind', 'message'])
    .where('lab_id', '=', labId)
    .orderBy('id')
    .execute();
  assert.deepEqual(
    events.map((e) => [e.vm_id, e.kind, e.message]).sort(),
    [
      [a, 'vm.step.started', 'verify started'],
      [b, 'vm.step.started', 'post-configure started'],
    ].sort(),
  );

  // Without the status they start in, or on a stopped lab, no step starts.
  await startLabTasksIfRunning(
    db,
    labId,
    ['c0:vm:vm-b:configure'],
    ['cancelled'],
    [{ copy: 0, name: 'vm-b', startFirstOf: configure }],
  );
  assert.deepEqual(await steps(b!), ['wait-ssh:done:1', 'post-configure:running:1', 'verify:pending:0']);
  await sql`UPDATE labs SET status = 'cancelled' WHERE id = ${labId}`.execute(db);
  const stopped = await startLabTasksIfRunning(
    db,
    labId,
    ['c0:vm:vm-b:configure'],
    ['cancelled'],
    [{ copy: 0, name: 'vm-b', startFirstOf: configure }],
    'deploying',
  );
  assert.equal(stopped.vms[0]?.started_step, null);
  assert.deepEqual(await steps(b!), ['wait-ssh:done:1', 'post-configure:running:1', 'verify:pending:0']);
});
